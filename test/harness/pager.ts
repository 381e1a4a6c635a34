import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { readFile } from "node:fs/promises";
import { closeServer, endToEnd, listenLoopback, rawEndToEnd, sendJson } from "./http-util.js";

/**
 * A proxy that makes a real registry paginate tags like Quay and Docker Hub do: distribution
 * 2.8 ignores `n` on /tags/list and returns every tag at once. Everything else is forwarded
 * unchanged, Host header included, so upload Locations the registry builds point back here.
 */

export interface PagingProxyOptions {
  /** The registry's base URL, e.g. "http://127.0.0.1:5000". */
  upstream: string;
  /** The largest page served, whatever `n` asks (default 100). */
  maxPage?: number;
  /** PEM CA for an https upstream. */
  caFile?: string;
}

export interface ProxyRequestRecord {
  time: number;
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  status: number;
}

export interface PagerStats {
  count: number;
  /** How many tag-list pages were served. */
  tagPages: number;
  requests: ProxyRequestRecord[];
  /** TCP connections clients opened to the front (a reader of /__stats counts its own). */
  connections: number;
}

export interface PagingProxy {
  url: string;
  host: string;
  upstream: string;
  maxPage: number;
  statsUrl: string;
  stats(): PagerStats;
  reset(): void;
  close(): Promise<void>;
}

const TAGS_LIST = /^\/v2\/(.+)\/tags\/list$/;

export async function startPagingProxy(options: PagingProxyOptions): Promise<PagingProxy> {
  const upstream = new URL(options.upstream);
  const maxPage = options.maxPage ?? 100;
  const ca = options.caFile ? await readFile(options.caFile) : undefined;
  const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
  let records: ProxyRequestRecord[] = [];
  let tagPages = 0;
  let connections = 0;

  function forward(req: IncomingMessage, path: string, headers: IncomingHttpHeaders): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const out = send(
        new URL(path, upstream),
        { method: req.method, headers, ca, timeout: 60_000 },
        resolve,
      );
      out.on("timeout", () => out.destroy(new Error("upstream timed out")));
      out.on("error", reject);
      req.pipe(out);
    });
  }

  async function servePage(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<number> {
    // The full list from upstream, with the client's credentials, then one page of it.
    const up = await forward(req, `/v2/${name}/tags/list`, endToEnd(req.headers));
    const chunks: Buffer[] = [];
    for await (const chunk of up) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const status = up.statusCode ?? 502;
    if (status !== 200) {
      res.writeHead(status, rawEndToEnd(up.rawHeaders));
      res.end(body);
      return status;
    }
    const list = JSON.parse(body.toString("utf8")) as { name: string; tags: string[] | null };
    const requested = Number.parseInt(url.searchParams.get("n") ?? "", 10);
    const size = requested > 0 ? Math.min(requested, maxPage) : maxPage;
    const last = url.searchParams.get("last");
    const sorted = [...(list.tags ?? [])].sort();
    const rest = last === null ? sorted : sorted.filter((t) => t > last);
    const page = rest.slice(0, size);
    const headers = rawEndToEnd(up.rawHeaders, ["content-length", "content-type", "link"]);
    const lastOfPage = page[page.length - 1];
    if (rest.length > page.length && lastOfPage !== undefined) {
      const next = new URLSearchParams({ n: String(size), last: lastOfPage });
      headers.push("Link", `</v2/${name}/tags/list?${next}>; rel="next"`);
    }
    const data = Buffer.from(JSON.stringify({ name: list.name, tags: page }));
    headers.push("Content-Type", "application/json; charset=utf-8", "Content-Length", String(data.length));
    res.writeHead(200, headers);
    res.end(data);
    tagPages++;
    return 200;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "/";
    const url = new URL(path, "http://proxy.invalid");
    if (url.pathname === "/__stats") {
      if (req.method === "DELETE" || req.method === "POST") {
        records = [];
        tagPages = 0;
        connections = 0;
      }
      return sendJson(res, 200, { count: records.length, tagPages, requests: records, connections });
    }
    const record: ProxyRequestRecord = { time: Date.now(), method: req.method ?? "GET", path, status: 0 };
    records.push(record);
    const tags = req.method === "GET" ? TAGS_LIST.exec(url.pathname) : null;
    if (tags?.[1]) {
      record.status = await servePage(req, res, url, tags[1]);
      return;
    }
    const up = await forward(req, path, endToEnd(req.headers));
    record.status = up.statusCode ?? 502;
    res.writeHead(record.status, rawEndToEnd(up.rawHeaders));
    up.pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 502, { errors: [{ code: "UNKNOWN", message: `proxy: ${String(error)}` }] });
      else res.destroy();
    });
  });
  server.on("connection", () => connections++);
  const port = await listenLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    upstream: options.upstream,
    maxPage,
    statsUrl: `${url}/__stats`,
    stats: () => ({ count: records.length, tagPages, requests: records.map((r) => ({ ...r })), connections }),
    reset: () => {
      records = [];
      tagPages = 0;
      connections = 0;
    },
    close: () => closeServer(server),
  };
}
