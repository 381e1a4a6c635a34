/** When and how long to wait before retrying a request. */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * 429s are retried beyond `retries`, backing off exponentially with jitter on our own clock
   * (Quay's nginx sends no Retry-After), until this long was spent waiting. 0: `retries` only.
   */
  rateLimitBudgetMs?: number | undefined;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 3, baseDelayMs: 200, maxDelayMs: 10_000 };

/**
 * How long 429s are backed off at Quay (its REST API and its /v2/ registry alike) before giving
 * up: its nginx sends no Retry-After, so the wait is ours to choose.
 */
export const DEFAULT_RATE_LIMIT_BUDGET_MS = 60_000;

/** The policy of a Quay host: `given` (the caller's), with the 429 budget unless the caller set one. */
export function quayRetryPolicy(given: Partial<RetryPolicy> | undefined): Partial<RetryPolicy> {
  return { rateLimitBudgetMs: DEFAULT_RATE_LIMIT_BUDGET_MS, ...given };
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

const RETRYABLE_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** Connection-level failures worth another try; TLS and certificate errors are not. */
export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_ERROR_CODES.has(code);
}

/** undici's idle timers: nothing came (headers, body), or the server stopped taking a request body. */
export function isStall(err: unknown): boolean {
  const code = errorCode(err);
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = current.cause;
  }
  return undefined;
}

/** Retry-After is either delta-seconds or an HTTP date; returns milliseconds, or undefined if absent/garbled. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); Date.parse alone would accept "1.5".
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter, or the server's Retry-After, capped by the policy. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
