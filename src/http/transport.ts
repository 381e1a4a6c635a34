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
import { bounded, NetworkError, ProtocolError, QuaysideError, quoted } from "../errors.js";
import { JSON_DOCUMENT_LIMIT } from "../util/limits.js";
import { bytesStream, readAll } from "../util/streams.js";
import { RateLimiter } from "./rate.js";
import { redactHeaders, redactUrl } from "./redact.js";
import { TLS_NOT_SPOKEN_CODES } from "./tls-probe.js";
import { DEFAULT_RETRY_POLICY, errorCode, isRetryableError, isStall, isRetryableStatus, parseRetryAfter, retryDelay, type RetryPolicy } from "./retry.js";

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
  /**
   * Idle time allowed on a request (default 30 s): waiting for the answer, or between two chunks
   * of its body, or for the server to take more of ours. A small request (a manifest, a token, a
   * HEAD, a listing page) must also be answered in full within twice this. A stall is retried.
   */
  timeoutMs?: number;
  /** Time to wait for response headers (default: timeoutMs). */
  headersTimeoutMs?: number;
  /** Longest silence allowed between two body chunks (default: timeoutMs). */
  bodyTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  tls?: TlsOptions;
  maxConnectionsPerOrigin?: number;
  /** Receives one line per request and response, credentials redacted. */
  logger?: (line: string) => void;
  /** At most this many requests per second to each host (retries included). */
  rate?: number | undefined;
  /** A limiter shared with other clients (one limit per host between them all); beats `rate`. */
  rateLimiter?: RateLimiter | undefined;
  /** Told of each retry before waiting for it: a stall, a dropped connection, a 429 or 5xx, a resumed download. */
  onRetry?: (notice: RetryNotice) => void;
}

/** A retry about to happen, for a person to see that something is being done about a fault. */
export interface RetryNotice {
  method: string;
  /** Credentials redacted. */
  url: string;
  /** "stalled": nothing came for the timeout, or a small answer not within its deadline. */
  reason: "stalled" | "status" | "network";
  /** With "status": 429, 503, ... */
  status?: number;
  /** The attempt about to be made (2 is the first retry), of how many at most. */
  attempt: number;
  attempts: number;
  delayMs: number;
  /** One line: "GET http://host/v2/app/blobs/sha256:... stalled 30 s; retrying (2 of 4)". */
  message: string;
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
  /**
   * A small request (a manifest, a token, a HEAD, a listing page): answered in full within the
   * client's deadline (twice the timeout), its body (of a 2xx answer) read here, at most
   * `maxBytes`, so that a stall or a drop in it is retried like a failed request.
   */
  small?: { maxBytes: number };
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
export const DEFAULT_TIMEOUT_MS = 30_000;

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
  readonly retryPolicy: RetryPolicy;
  /** Idle time allowed (headers, between body chunks); small requests get twice this in all. */
  readonly timeoutMs: number;
  private readonly logger: ((line: string) => void) | undefined;
  private readonly limiter: RateLimiter | undefined;
  private readonly onRetry: ((notice: RetryNotice) => void) | undefined;

  constructor(options: HttpClientOptions = {}) {
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.limiter = options.rateLimiter ?? (options.rate !== undefined ? new RateLimiter(options.rate) : undefined);
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger;
    this.onRetry = options.onRetry;
    this.agent = new Agent({
      connections: options.maxConnectionsPerOrigin ?? 16,
      // While a request body is sent, undici's headers timer also fires when the server stops taking it.
      headersTimeout: options.headersTimeoutMs ?? this.timeoutMs,
      bodyTimeout: options.bodyTimeoutMs ?? this.timeoutMs,
      connect: { timeout: options.connectTimeoutMs ?? 15_000, ...tlsConnectOptions(options.tls) },
    });
  }

  /**
   * Tell the listener of a retry: this client's own, or one made above it (a download resumed, an
   * upload started over) so that every retry reaches a person the same way.
   */
  notifyRetry(notice: Omit<RetryNotice, "message" | "url"> & { url: string | URL; what: string }): void {
    if (this.onRetry === undefined) return;
    const { what, ...rest } = notice;
    const url = redactUrl(notice.url.toString());
    const wait = notice.delayMs >= 1000 ? ` in ${(notice.delayMs / 1000).toFixed(1)} s` : "";
    this.onRetry({ ...rest, url, message: `${notice.method} ${bounded(url, 160)} ${what}; retrying${wait} (${notice.attempt} of ${notice.attempts})` });
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
    const rateLimitBudget = !retryable || !replayable ? 0 : (this.retryPolicy.rateLimitBudgetMs ?? 0);
    let waitedOn429 = 0;
    const retry = async (attempt: number, reason: RetryNotice["reason"], what: string, delayMs: number, status?: number): Promise<void> => {
      this.notifyRetry({ method, url, reason, what, attempt: attempt + 2, attempts: maxRetries + 1, delayMs, ...(status !== undefined ? { status } : {}) });
      await backoff(delayMs, req.signal);
    };
    for (let attempt = 0; ; attempt++) {
      if (this.limiter) await this.limiter.acquire(url.host, req.signal).catch((err: unknown) => Promise.reject(req.signal?.aborted ? abortError(req.signal, err) : err));
      const started = Date.now();
      this.log(() => `> ${method} ${redactUrl(url.toString())} ${JSON.stringify(redactHeaders(headers))}`);
      const deadline = req.small !== undefined ? new Deadline(2 * this.timeoutMs, req.signal) : undefined;
      let response: HttpResponse;
      try {
        response = await this.send(method, url, headers, req, deadline?.signal ?? req.signal);
        // A small answer is read here, inside the deadline, so that a stall in its body is retried too.
        if (req.small !== undefined && response.status >= 200 && response.status < 300) response = await buffered(response, req.small.maxBytes, method);
      } catch (err) {
        if (req.signal?.aborted) throw abortError(req.signal, err);
        const stall = deadline?.expired ? `took more than ${deadline.ms / 1000} s` : isStall(err) ? `stalled ${this.timeoutMs / 1000} s` : undefined;
        this.log(() => `< ${method} ${redactUrl(url.toString())} failed: ${stall ?? errorCode(err) ?? String(err)}`);
        if (err instanceof QuaysideError && stall === undefined) throw err;
        if (attempt < maxRetries && (stall !== undefined || isRetryableError(err))) {
          await retry(attempt, stall !== undefined ? "stalled" : "network", stall ?? `failed (${errorCode(err) ?? "network error"})`, retryDelay(this.retryPolicy, attempt));
          continue;
        }
        throw stall !== undefined ? stalledError(method, url, stall, err) : toNetworkError(method, url, err);
      } finally {
        deadline?.clear();
      }
      this.log(() => `< ${response.status} ${method} ${redactUrl(url.toString())} (${Date.now() - started} ms)`);
      if (response.status === 429 && waitedOn429 < rateLimitBudget) {
        // Rate limited (Quay sends no Retry-After): back off on our own clock until the budget is spent, whatever `retries` says.
        const delay = Math.max(1, Math.min(retryDelay(this.retryPolicy, attempt, parseRetryAfter(response.header("retry-after"))), rateLimitBudget - waitedOn429));
        waitedOn429 += delay;
        await response.dump();
        await retry(attempt, "status", "answered HTTP 429", delay, 429);
        continue;
      }
      if (attempt < maxRetries && isRetryableStatus(response.status) && !(response.status === 429 && rateLimitBudget > 0)) {
        const retryAfter = parseRetryAfter(response.header("retry-after"));
        await response.dump();
        await retry(attempt, "status", `answered HTTP ${response.status}`, retryDelay(this.retryPolicy, attempt, retryAfter), response.status);
        continue;
      }
      return response;
    }
  }


  private async send(method: string, url: URL, headers: Record<string, string>, req: HttpRequest, signal: AbortSignal | undefined): Promise<HttpResponse> {
    // undici gives a connection back to its pool one event-loop turn after the answer on it ended
    // (a setImmediate): a request sent before that turn, as the next one of a sequence is, would
    // open another connection (another TLS handshake) while an idle one is about to be free.
    await nextTurn();
    const res = await this.agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: method as "GET",
      headers,
      body: req.body ?? null,
      // undici asks the server to close the connection after every HEAD (`connection: close`), in
      // case it sends a body anyway (undici#258). A registry answers the HEADs of a check or a copy
      // by the dozen and sends none: keep the connection, and its TLS session, for the next request.
      ...(method === "HEAD" ? { reset: false } : {}),
      signal,
    });
    const body = res.body;
    const where = `${method} ${redactUrl(url.toString())}`;
    const bytes = (limit = JSON_DOCUMENT_LIMIT) => readAll(body, limit, `${where}: response body`);
    const text = async (limit?: number) => (await bytes(limit)).toString("utf8");
    return {
      status: res.statusCode,
      headers: res.headers,
      url: url.toString(),
      body,
      header: (name) => firstHeader(res.headers, name),
      text,
      json: async (limit) => parseJson(await text(limit), where),
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

/** Resolves after the callbacks already queued with setImmediate (undici's) have run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The whole-answer deadline of one attempt at a small request, following the caller's signal too. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal;
  expired = false;

  constructor(
    readonly ms: number,
    outer: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new Error(`no complete answer within ${ms} ms`));
    }, ms);
    this.timer.unref();
    this.signal = outer === undefined ? this.controller.signal : AbortSignal.any([outer, this.controller.signal]);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

function stalledError(method: string, url: URL, what: string, cause: unknown): NetworkError {
  return new NetworkError(`${method} ${redactUrl(url.toString())} ${what}: the server stopped answering (see --timeout)`, { cause, code: "TIMEOUT" });
}

/** A response whose (small) body has been read: served from memory, the same limits applying. */
async function buffered(response: HttpResponse, maxBytes: number, method: string): Promise<HttpResponse> {
  const read = await response.bytes(maxBytes);
  const data = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
  const where = `${method} ${redactUrl(response.url)}`;
  // Within the limit, the bytes read already (no copy); past it, the same TOO_LARGE error as a stream's.
  const bytes = async (limit = JSON_DOCUMENT_LIMIT) => (data.length <= limit ? data : readAll(bytesStream(data), limit, `${where}: response body`));
  const text = async (limit?: number) => (await bytes(limit)).toString("utf8");
  return {
    ...response,
    body: bytesStream(data),
    bytes,
    text,
    json: async (limit) => parseJson(await text(limit), where),
    dump: async () => undefined,
  };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProtocolError(`${where}: response is not JSON: ${quoted(text)}`, { cause: err });
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
export async function backoff(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? abortError(signal, err) : err;
  }
}

/** Throw the ABORTED error a request would, when `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal, signal.reason);
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
  const explained = code !== undefined ? explainConnectionFailure(code, url) : undefined;
  if (explained !== undefined) return new NetworkError(`${where}: ${explained}`, { cause: err });
  // Node's messages name their code already ("connect ECONNREFUSED ..."): not twice.
  return new NetworkError(`${where}: ${code !== undefined && !detail.includes(code) ? `${code}: ` : ""}${detail}`, { cause: err });
}

/** What a person can do about the usual ways a connection fails, in words rather than a code. */
function explainConnectionFailure(code: string, url: URL): string | undefined {
  const host = url.host;
  switch (code) {
    case "ECONNREFUSED":
      return `${host} refused the connection (${code}): is a registry listening there, on that port?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve ${url.hostname} (${code}): check the registry's name and this machine's DNS`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${host} is unreachable from here (${code}): check the address and the network`;
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return `no connection to ${host} in time (${code}): check the address, the network and any firewall`;
    default:
      return undefined;
  }
}
