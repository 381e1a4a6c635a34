import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { closeServer, endToEnd, listenLoopback, sendJson } from "./http-util.js";

/**
 * A proxy in front of a real registry that injects the faults a registry, a load balancer or a
 * network produces now and then: connections dropped (before answering, part way into the request
 * body, part way into the answer), bodies cut short or with a byte flipped, 5xx and 429 answers
 * (with or without Retry-After), and stalls. Faults are chosen by method and path, for the first N
 * matching requests or at a rate drawn from a seeded generator (the same seed, the same choices for
 * the same sequence of requests). Everything else is forwarded unchanged, Host header included, so
 * upload Locations the registry builds point back through the proxy. Usable on either side of a copy.
 * "truncate", "flip" and "extra" are complete answers served wrong (their Content-Length says what
 * is sent), as a broken cache or CDN serves them: not a dropped connection, which a client resumes.
 */

export type Fault =
  /** Drop the connection: on arrival, after this many bytes of the request body, or of the answer's body. */
  | { kind: "reset"; afterRequestBytes?: number; afterResponseBytes?: number }
  /** A complete answer whose body is cut to `keep` bytes (default half), its Content-Length saying so. */
  | { kind: "truncate"; keep?: number }
  /** The answer with one byte flipped (at `at`, default the middle), its length unchanged. */
  | { kind: "flip"; at?: number }
  /** The answer with bytes added at its end (default "extra bytes"), its Content-Length saying so. */
  | { kind: "extra"; bytes?: string }
  /** Answer this status (5xx, 429) without asking the registry; `retryAfter` in seconds, or an HTTP date. */
  | { kind: "status"; status: number; retryAfter?: number | string }
  /** Stop: never answer ("headers"), or stop sending after `afterBytes` of the answer's body ("body"). */
  | { kind: "stall"; phase: "headers" | "body"; afterBytes?: number };

export interface FaultRule {
  /** Matches every method when absent. */
  method?: string;
  path: RegExp;
  fault: Fault;
  /** Let this many matching requests through before any gets the fault (default 0). */
  skip?: number;
  /** Only the first N matching requests (after `skip`) get the fault. */
  first?: number;
  /** Each matching request gets the fault with this probability (seeded). Default 1. */
  rate?: number;
}

export interface FaultRecord {
  method: string;
  path: string;
  /** The fault applied, if any. */
  fault?: Fault["kind"];
  /** What the client was answered (0: nothing, the connection dropped or stalled). */
  status: number;
}

export interface FaultProxy {
  url: string;
  host: string;
  upstream: string;
  /** Replace the rules (and restart the generator from `seed`, default the proxy's). */
  setRules(rules: readonly FaultRule[], seed?: number): void;
  /** Every request so far, in order of arrival. */
  records(): FaultRecord[];
  /** How many faults were applied. */
  faults(): number;
  /** Forget the records (rules stay). */
  reset(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The registry's base URL, e.g. "http://127.0.0.1:5000". */
  upstream: string;
  rules?: readonly FaultRule[];
  seed?: number;
  /** PEM CA for an https upstream. */
  caFile?: string;
}

/** mulberry32: small, seeded, good enough to pick faults reproducibly. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const ca = options.caFile ? await readFile(options.caFile) : undefined;
  const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
  const defaultSeed = options.seed ?? 1;
  let rules: Array<FaultRule & { matched: number }> = [];
  let random = generator(defaultSeed);
  let records: FaultRecord[] = [];
  let applied = 0;
  const sockets = new Set<Socket>();

  const setRules = (next: readonly FaultRule[], seed = defaultSeed): void => {
    rules = next.map((rule) => ({ ...rule, matched: 0 }));
    random = generator(seed);
  };
  setRules(options.rules ?? []);

  /** The fault for this request, if one applies; every matching rule counts the request. */
  function choose(method: string, path: string): Fault | undefined {
    for (const rule of rules) {
      if ((rule.method !== undefined && rule.method !== method) || !rule.path.test(path)) continue;
      const index = rule.matched++ - (rule.skip ?? 0);
      if (index < 0 || (rule.first !== undefined && index >= rule.first)) continue;
      // Draw only for rules with a rate, so that adding a `first` rule does not shift the sequence.
      if (rule.rate !== undefined && random() >= rule.rate) continue;
      return rule.fault;
    }
    return undefined;
  }

  function forward(req: IncomingMessage, onRequestBytes?: (bytes: number) => void): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const out = send(new URL(req.url ?? "/", upstream), { method: req.method, headers: endToEnd(req.headers), ca }, resolve);
      out.on("error", reject);
      req.on("aborted", () => out.destroy());
      req.on("close", () => {
        if (!req.complete) out.destroy();
      });
      if (onRequestBytes) req.on("data", (chunk: Buffer) => onRequestBytes(chunk.length));
      req.pipe(out);
    });
  }

  async function readBody(up: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of up) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: FaultRecord, fault: Fault | undefined): Promise<void> {
    const drop = (): void => {
      record.status = 0;
      req.socket.destroy();
    };
    if (fault?.kind === "status") {
      // Like a load balancer: the registry never sees it. The body is read first so the client sees the status.
      req.resume();
      await new Promise((resolve) => req.once("end", resolve));
      record.status = fault.status;
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {};
      const code = fault.status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE";
      return sendJson(res, fault.status, { errors: [{ code, message: `fault proxy: ${fault.status}` }] }, headers);
    }
    if (fault?.kind === "reset" && fault.afterRequestBytes === undefined && fault.afterResponseBytes === undefined) return drop();
    if (fault?.kind === "stall" && fault.phase === "headers") {
      record.status = 0;
      return; // held until the client gives up or the proxy closes
    }
    let received = 0;
    const up = await forward(
      req,
      fault?.kind === "reset" && fault.afterRequestBytes !== undefined
        ? (bytes) => {
            received += bytes;
            if (received >= (fault.afterRequestBytes ?? 0)) drop();
          }
        : undefined,
    );
    if (req.socket.destroyed) {
      up.destroy();
      return;
    }
    const status = up.statusCode ?? 502;
    record.status = status;
    const ok = status >= 200 && status < 300;
    if (!ok || fault === undefined || (fault.kind === "reset" && fault.afterResponseBytes === undefined)) {
      res.writeHead(status, endToEnd(up.headers));
      up.pipe(res);
      return;
    }
    switch (fault.kind) {
      case "truncate":
      case "flip":
      case "extra": {
        const body = await readBody(up);
        let served: Buffer;
        if (fault.kind === "truncate") {
          served = body.subarray(0, fault.keep ?? Math.floor(body.length / 2));
        } else if (fault.kind === "extra") {
          served = Buffer.concat([body, Buffer.from(fault.bytes ?? "extra bytes")]);
        } else {
          served = Buffer.from(body);
          const at = Math.min(fault.at ?? Math.floor(body.length / 2), body.length - 1);
          if (at >= 0) served[at] = (served[at] ?? 0) ^ 0x01;
        }
        res.writeHead(status, { ...endToEnd(up.headers, ["content-length"]), "content-length": String(served.length) });
        res.end(served);
        return;
      }
      case "reset":
      case "stall": {
        const limit = fault.kind === "reset" ? (fault.afterResponseBytes ?? 0) : (fault.afterBytes ?? 0);
        res.writeHead(status, endToEnd(up.headers));
        let sent = 0;
        up.on("data", (chunk: Buffer) => {
          if (sent >= limit) return;
          const part = chunk.subarray(0, limit - sent);
          sent += part.length;
          res.write(part);
          if (sent < limit) return;
          up.destroy();
          if (fault.kind === "reset") {
            record.status = 0;
            // Let the bytes go out first: a reset that races them would look like a drop before the body.
            res.once("finish", () => req.socket.destroy());
            setTimeout(() => req.socket.destroy(), 50).unref();
          }
          // A stall keeps the connection open, sending nothing more.
        });
        up.on("end", () => {
          if (sent < limit) res.end();
        });
        return;
      }
    }
  }

  const server = createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const fault = choose(method, path);
    if (fault !== undefined) applied++;
    const record: FaultRecord = { method, path, status: 0, ...(fault !== undefined ? { fault: fault.kind } : {}) };
    records.push(record);
    handle(req, res, record, fault).catch((error: unknown) => {
      if (!res.headersSent && !req.socket.destroyed) sendJson(res, 502, { errors: [{ code: "UNKNOWN", message: `fault proxy: ${String(error)}` }] });
      else req.socket.destroy();
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listenLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    upstream: options.upstream,
    setRules,
    records: () => records.map((r) => ({ ...r })),
    faults: () => applied,
    reset: () => {
      records = [];
      applied = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}
