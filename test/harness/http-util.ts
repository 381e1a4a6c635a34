import type { IncomingHttpHeaders, IncomingMessage, ServerResponse, Server } from "node:http";

/** Hop-by-hop headers: they describe one connection, and a proxy never passes them on. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Headers to pass on: all but the hop-by-hop ones and `drop` (lower-case names). */
export function endToEnd(headers: IncomingHttpHeaders, drop: readonly string[] = []): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !drop.includes(name)));
}

/** The same over raw header pairs, keeping repeats such as several WWW-Authenticate. */
export function rawEndToEnd(raw: readonly string[], drop: readonly string[] = []): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !drop.includes(lower)) out.push(name, raw[i + 1] ?? "");
  }
  return out;
}

/** Reads a request body with a size cap (bodies here are small forms). */
export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new Error(`request body larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(data.length), ...headers });
  res.end(data);
}

/** Listens on 127.0.0.1 on a free port; its sockets never keep the process alive. */
export function listenLoopback(server: Server): Promise<number> {
  server.on("connection", (socket) => socket.unref());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.unref();
      const address = server.address();
      if (typeof address === "object" && address) resolve(address.port);
      else reject(new Error("server has no address"));
    });
  });
}

/** Closes a server and drops its open (keep-alive) connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
