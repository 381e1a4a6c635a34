import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { closeServer, listenLoopback } from "./http-util.js";

/**
 * A front for a real (plain HTTP) registry that serves chosen blobs wrong: cut short, with a byte
 * flipped, or with bytes added. Each answer is complete, with a Content-Length that matches what
 * is sent, as a broken cache or CDN would serve it (not a dropped connection, which a client
 * resumes). Everything else is forwarded unchanged.
 */

export type Corruption = "truncate" | "flip" | "extra";

export interface CorruptingFront {
  url: string;
  host: string;
  /** Serve this blob wrong from now on (undefined: serve it right again). */
  corrupt(digest: string, how: Corruption | undefined): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

function corrupted(body: Buffer, how: Corruption): Buffer {
  if (how === "truncate") return body.subarray(0, body.length - 1);
  if (how === "extra") return Buffer.concat([body, Buffer.from("extra bytes")]);
  const flipped = Buffer.from(body);
  const at = Math.floor(flipped.length / 2);
  flipped[at] = (flipped[at] ?? 0) ^ 0x01;
  return flipped;
}

export async function startCorruptingFront(upstream: string): Promise<CorruptingFront> {
  const base = new URL(upstream);
  const targets = new Map<string, Corruption>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", base);
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const how = req.method === "GET" && digest !== undefined ? targets.get(digest) : undefined;
    const out = httpRequest(url, { method: req.method, headers: req.headers }, (up) => {
      const status = up.statusCode ?? 502;
      if (how === undefined || status !== 200) {
        res.writeHead(status, endToEnd(up.headers));
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on("data", (chunk: Buffer) => chunks.push(chunk));
      up.on("end", () => {
        const body = corrupted(Buffer.concat(chunks), how);
        res.writeHead(200, { ...endToEnd(up.headers), "content-length": String(body.length) });
        res.end(body);
      });
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  const port = await listenLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    corrupt: (digest, how) => {
      if (how === undefined) targets.delete(digest);
      else targets.set(digest, how);
    },
    close: () => closeServer(server),
  };
}
