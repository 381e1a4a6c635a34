import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { closeServer, listenLoopback } from "./http-util.js";

/**
 * A registry that misbehaves on purpose (huge or endless bodies, odd errors), for what a real
 * registry does not do. On 127.0.0.1 only; `handle` may be swapped between requests.
 */
export interface HostileServer {
  /** "127.0.0.1:PORT", as a registry host in a reference. */
  host: string;
  url: string;
  requests: Array<{ method: string; path: string }>;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function startHostileServer(handle: HostileServer["handle"]): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    hostile.requests.push({ method: req.method ?? "", path: req.url ?? "" });
    // A server that answers without reading the request body: drain it so the socket is not stuck.
    req.resume();
    hostile.handle(req, res);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const hostile: HostileServer = {
    host: "",
    url: "",
    requests: [],
    handle,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
  const port = await listenLoopback(server);
  hostile.host = `127.0.0.1:${port}`;
  hostile.url = `http://${hostile.host}`;
  return hostile;
}

/** A JSON answer with a distribution-style error body. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(body.length), ...headers });
  res.end(body);
}
