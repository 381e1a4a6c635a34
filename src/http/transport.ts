/**
 * The one HTTP stack: an undici Agent (a connection pool per origin) wrapped with timeouts,
 * a User-Agent, retries with backoff, redirects that never carry credentials to another
 * origin, TLS options, and a redacted request log.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent } from "undici";
import { NetworkError, ProtocolError, QuaysideError, quoted } from "../errors.js";
import { JSON_DOCUMENT_LIMIT } from "../util/limits.js";
import { readAll } from "../util/streams.js";
import { redactHeaders, redactUrl } from "./redact.js";
import { TLS_NOT_SPOKEN_CODES } from "./tls-probe.js";
import { DEFAULT_RETRY_POLICY, errorCode, isRetryableError, isRetryableStatus, parseRetryAfter, retryDelay, type RetryPolicy } from "./retry.js";

export interface TlsOptions {
  /** PEM CA certificate(s) to trust, in addition to the system roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  caFile?: string;
  /** Accept any certificate. Only ever on explicit request (--skip-tls-verify). */
  insecureSkipVerify?: boolean;
  cert?: string | Buffer;
  key?: string | Buffer;
  certFile?: string;
  keyFile?: string;
}

export interface HttpClientOptions {
  userAgent?: string;
  connectTimeoutMs?: number;
  /** Time to wait for response headers. */
  headersTimeoutMs?: number;
  /** Longest silence allowed between two body chunks. */
  bodyTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  tls?: TlsOptions;
  maxConnectionsPerOrigin?: number;
  /** Receives one line per request and response, credentials redacted. */
  logger?: (line: string) => void;
}

export type RequestBody = string | Uint8Array | Readable;

export interface HttpRequest {
  method: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal | undefined;
  /** Follow redirects (default for GET and HEAD). Authorization is dropped when the origin changes. */
  followRedirects?: boolean;
  /** Allow retries; defaults to true for idempotent methods. A stream body is never replayed. */
  retry?: boolean;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface HttpResponse {
  status: number;
  headers: ResponseHeaders;
  /** The URL that finally answered, after redirects. */
  url: string;
  body: Readable;
  header(name: string): string | undefined;
  /** Read whole bodies are capped: each of these fails (TOO_LARGE) past `limit` bytes (default 4 MiB). */
  text(limit?: number): Promise<string>;
  bytes(limit?: number): Promise<Uint8Array>;
  json(limit?: number): Promise<unknown>;
  /** Discard the body so the connection can be reused. */
  dump(): Promise<void>;
}

export const DEFAULT_USER_AGENT = "quayside/0.1";
const MAX_REDIRECTS = 10;
/** Headers that carry credentials: never sent on to another origin. */
const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie", "x-registry-auth"];
/** Methods safe to send twice; POST and PATCH (upload starts and chunks) are retried only on request. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

const TLS_CERT_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export class HttpClient {
  private readonly agent: Agent;
  private readonly userAgent: string;
  private readonly retryPolicy: RetryPolicy;
  private readonly logger: ((line: string) => void) | undefined;

  constructor(options: HttpClientOptions = {}) {
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.logger = options.logger;
    this.agent = new Agent({
      connections: options.maxConnectionsPerOrigin ?? 16,
      headersTimeout: options.headersTimeoutMs ?? 60_000,
      bodyTimeout: options.bodyTimeoutMs ?? 300_000,
      connect: { timeout: options.connectTimeoutMs ?? 15_000, ...tlsConnectOptions(options.tls) },
    });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method.toUpperCase();
    const follow = req.followRedirects ?? (method === "GET" || method === "HEAD");
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...lowerKeys(req.headers ?? {}) };
    const startOrigin = new URL(req.url).origin;
    let url = new URL(req.url);
    for (let hop = 0; ; hop++) {
      const response = await this.requestWithRetries(method, url, headers, req);
      const location = response.header("location");
      if (!follow || !isRedirect(response.status) || location === undefined) return response;
      await response.dump();
      if (hop >= MAX_REDIRECTS) throw new ProtocolError(`${method} ${redactUrl(req.url.toString())}: more than ${MAX_REDIRECTS} redirects`);
      url = new URL(location, url);
      // Credentials belong to the registry that asked for them, never to a CDN or another host.
      if (url.origin !== startOrigin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async requestWithRetries(method: string, url: URL, headers: Record<string, string>, req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.body === undefined || typeof req.body === "string" || req.body instanceof Uint8Array;
    const retryable = req.retry ?? IDEMPOTENT_METHODS.has(method);
    const maxRetries = !retryable || !replayable ? 0 : this.retryPolicy.retries;
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      this.log(() => `> ${method} ${redactUrl(url.toString())} ${JSON.stringify(redactHeaders(headers))}`);
      let response: HttpResponse;
      try {
        response = await this.send(method, url, headers, req);
      } catch (err) {
        if (req.signal?.aborted) throw abortError(req.signal, err);
        this.log(() => `< ${method} ${redactUrl(url.toString())} failed: ${errorCode(err) ?? String(err)}`);
        if (attempt < maxRetries && isRetryableError(err)) {
          await backoff(retryDelay(this.retryPolicy, attempt), req.signal);
          continue;
        }
        throw toNetworkError(method, url, err);
      }
      this.log(() => `< ${response.status} ${method} ${redactUrl(url.toString())} (${Date.now() - started} ms)`);
      if (attempt < maxRetries && isRetryableStatus(response.status)) {
        const retryAfter = parseRetryAfter(response.header("retry-after"));
        await response.dump();
        await backoff(retryDelay(this.retryPolicy, attempt, retryAfter), req.signal);
        continue;
      }
      return response;
    }
  }

  private async send(method: string, url: URL, headers: Record<string, string>, req: HttpRequest): Promise<HttpResponse> {
    const res = await this.agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: method as "GET",
      headers,
      body: req.body ?? null,
      signal: req.signal,
    });
    const body = res.body;
    const bytes = (limit = JSON_DOCUMENT_LIMIT) => readAll(body, limit, `${method} ${redactUrl(url.toString())}: response body`);
    const text = async (limit?: number) => (await bytes(limit)).toString("utf8");
    return {
      status: res.statusCode,
      headers: res.headers,
      url: url.toString(),
      body,
      header: (name) => firstHeader(res.headers, name),
      text,
      json: async (limit) => {
        const json = await text(limit);
        try {
          return JSON.parse(json) as unknown;
        } catch (err) {
          throw new ProtocolError(`${method} ${redactUrl(url.toString())}: response is not JSON: ${quoted(json)}`, { cause: err });
        }
      },
      bytes,
      dump: async () => {
        await body.dump().catch(() => undefined);
      },
    };
  }

  /** Lines are built only when someone listens: redaction is not free on the hot path. */
  private log(line: () => string): void {
    if (this.logger) this.logger(line());
  }
}

function tlsConnectOptions(tls: TlsOptions | undefined): Record<string, unknown> {
  if (!tls) return {};
  const options: Record<string, unknown> = {};
  const cas: Array<string | Buffer> = [];
  if (tls.ca !== undefined) cas.push(...(Array.isArray(tls.ca) ? tls.ca : [tls.ca]));
  if (tls.caFile !== undefined) cas.push(readFileSync(tls.caFile));
  // Node's `ca` replaces the default roots; keep them so public registries still verify.
  if (cas.length > 0) options["ca"] = [...rootCertificates, ...cas];
  if (tls.insecureSkipVerify) options["rejectUnauthorized"] = false;
  const cert = tls.cert ?? (tls.certFile !== undefined ? readFileSync(tls.certFile) : undefined);
  const key = tls.key ?? (tls.keyFile !== undefined ? readFileSync(tls.keyFile) : undefined);
  if (cert !== undefined) options["cert"] = cert;
  if (key !== undefined) options["key"] = key;
  return options;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

export function firstHeader(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a header that may repeat (WWW-Authenticate, Link). */
export function allHeaders(headers: ResponseHeaders, name: string): string[] {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Waits between attempts; an abort while waiting is reported like any other abort (ABORTED), not as a bare AbortError. */
async function backoff(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? abortError(signal, err) : err;
  }
}

function abortError(signal: AbortSignal, cause: unknown): QuaysideError {
  const reason: unknown = signal.reason;
  return new QuaysideError("ABORTED", `request aborted${reason instanceof Error ? `: ${reason.message}` : ""}`, { cause });
}

function toNetworkError(method: string, url: URL, err: unknown): NetworkError {
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  const where = `${method} ${redactUrl(url.toString())}`;
  if (code !== undefined && TLS_CERT_CODES.has(code)) {
    return new NetworkError(`${where}: TLS certificate not trusted (${code}: ${detail}); pass a CA file, or skip verification explicitly`, {
      cause: err,
      code: "TLS_CERTIFICATE",
    });
  }
  if (code !== undefined && TLS_NOT_SPOKEN_CODES.has(code)) {
    return new NetworkError(`${where}: the server does not speak TLS (${detail})`, { cause: err, code: "TLS_NOT_SUPPORTED" });
  }
  return new NetworkError(`${where}: ${code ? `${code}: ` : ""}${detail}`, { cause: err });
}
