/**
 * Typed errors. Every error quayside throws is a QuaysideError with a stable `code`,
 * so callers (and the CLI's exit codes) can branch on `err.code` instead of messages.
 */

/** The error codes of the distribution spec (and Docker Hub's TOOMANYREQUESTS), as registries send them. */
export const DISTRIBUTION_ERROR_CODES = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "MANIFEST_UNVERIFIED",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "PAGINATION_NUMBER_INVALID",
  "RANGE_INVALID",
  "SIZE_INVALID",
  "TAG_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
] as const;

export type DistributionErrorCode = (typeof DISTRIBUTION_ERROR_CODES)[number];

/** Every code a QuaysideError can carry: a closed set callers can switch on. */
export type ErrorCode =
  | DistributionErrorCode
  /** A registry error whose body named no code we know: the HTTP status says what it was. */
  | `HTTP_${number}`
  | "NOT_FOUND"
  | "USAGE"
  | "INVALID_REFERENCE"
  | "INVALID_DIGEST"
  | "INVALID_PLATFORM"
  | "INVALID_MANIFEST"
  | "INVALID_LAYOUT"
  | "INVALID_ARCHIVE"
  | "INVALID_DOCKER_CONFIG"
  | "PLATFORM_NOT_FOUND"
  | "UNEXPECTED_MEDIA_TYPE"
  /** A manifest asked for in one media type (or a list of them) is stored, or served, in another. */
  | "MANIFEST_TYPE_MISMATCH"
  | "UNSUPPORTED_MANIFEST"
  | "UNSUPPORTED_IN_ARCHIVE"
  | "DIGEST_MISMATCH"
  | "SIZE_MISMATCH"
  | "NETWORK_ERROR"
  /** Nothing came for the idle timeout, or a small answer not within its deadline. */
  | "TIMEOUT"
  /** A body read whole was larger than its cap. */
  | "TOO_LARGE"
  | "TLS_CERTIFICATE"
  | "TLS_NOT_SUPPORTED"
  | "PROTOCOL_ERROR"
  | "INSECURE_REQUEST"
  | "AUTHENTICATION_FAILED"
  | "CREDENTIAL_HELPER"
  | "ABORTED"
  | "FILE_EXISTS"
  | "READ_ONLY"
  | "EMPTY_ARCHIVE"
  | "INCOMPLETE_ARCHIVE"
  | "ARCHIVE_CLOSED"
  | "ARCHIVE_FAILED"
  /** A bulk operation (a mirror) in which some items failed and the others were done. */
  | "PARTIAL_FAILURE"
  /** A schema 1 manifest's JWS signature that does not verify (or cannot be checked at all). */
  | "SIGNATURE_INVALID"
  /** A schema 1 signature with an algorithm quayside refuses (none, HS256, ...): only ES256/ES384/ES512/RS256. */
  | "SIGNATURE_ALGORITHM_DISALLOWED"
  /** A schema 1 signature whose key comes in an x509 certificate chain (x5c), which quayside does not check. */
  | "SIGNATURE_CHAIN_UNSUPPORTED";

export type ErrorCategory = "invalid-input" | "not-found" | "unauthorized" | "denied" | "integrity" | "unsupported" | "network" | "protocol" | "other";

/** The longest error message: an error is one line on a terminal, whatever a server or the input sent. */
export const MAX_MESSAGE_LENGTH = 500;

/**
 * Text from a server or the user, made fit for a message: one line (control characters escaped)
 * of at most `max` characters, the middle cut out so that both ends stay readable.
 */
export function bounded(text: string, max = 200): string {
  const line = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => (c === "\t" ? " " : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  if (line.length <= max) return line;
  const marker = ` …(${line.length - max} characters cut)… `;
  const keep = Math.max(0, max - marker.length);
  const head = Math.ceil((keep * 2) / 3);
  return `${line.slice(0, head)}${marker}${line.slice(line.length - (keep - head))}`;
}

/** A value from a server or the user, bounded and quoted: `"application/vnd.oci…"`. */
export function quoted(text: string, max = 120): string {
  return JSON.stringify(bounded(text, max));
}

export class QuaysideError extends Error {
  /** Stable machine-readable code, e.g. "INVALID_REFERENCE" or a distribution code like "MANIFEST_UNKNOWN". */
  readonly code: ErrorCode;
  readonly category: ErrorCategory;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; category?: ErrorCategory }) {
    // Every piece of outside text should be bounded where it is put in; this is the backstop.
    super(bounded(message, MAX_MESSAGE_LENGTH), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.category = options?.category ?? "other";
  }
}

/** Is this "it is not there" (manifest, blob, tag, repository, platform, file), whichever layer said so? */
export function isNotFound(err: unknown): err is QuaysideError {
  return err instanceof QuaysideError && err.category === "not-found";
}

/** Something asked for is not there: a tag in a layout, an image in an archive, a file. */
export class NotFoundError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown; code?: "NOT_FOUND" | "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" }) {
    super(options?.code ?? "NOT_FOUND", message, { cause: options?.cause, category: "not-found" });
  }
}

/** Asked of a store or a registry that cannot do it: referrers into a docker archive, an index where only images fit. */
export class UnsupportedError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNSUPPORTED", message, { cause: options?.cause, category: "unsupported" });
  }
}

/** Options or arguments that do not go together, or lack what they need (the CLI's exit 2). */
export class UsageError extends QuaysideError {
  constructor(message: string) {
    super("USAGE", message, { category: "invalid-input" });
  }
}

/** A reference, repository name, tag or registry host that does not parse. `part` names what was wrong. */
export class InvalidReferenceError extends QuaysideError {
  constructor(
    readonly input: string,
    readonly part: "reference" | "registry" | "repository" | "tag" | "digest",
    reason: string,
  ) {
    super("INVALID_REFERENCE", `invalid reference ${quoted(input)}: ${part} ${reason}`, { category: "invalid-input" });
  }
}

export class InvalidDigestError extends QuaysideError {
  constructor(readonly input: string, reason: string) {
    super("INVALID_DIGEST", `invalid digest ${quoted(input)}: ${reason}`, { category: "invalid-input" });
  }
}

/** Content that is not what it claims: a digest or size that does not match. Nothing built on it was kept. */
export class IntegrityError extends QuaysideError {
  constructor(code: "DIGEST_MISMATCH" | "SIZE_MISMATCH", message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause, category: "integrity" });
  }
}

export class DigestMismatchError extends IntegrityError {
  constructor(readonly expected: string, readonly actual: string, what = "content") {
    super("DIGEST_MISMATCH", `digest mismatch for ${what}: expected ${bounded(expected, 100)}, got ${bounded(actual, 100)}`);
  }
}

export class SizeMismatchError extends IntegrityError {
  constructor(readonly expected: number, readonly actual: number, what = "content") {
    super("SIZE_MISMATCH", `size mismatch for ${what}: expected ${expected} bytes, got ${actual}`);
  }
}

/** A manifest (or config, or index) whose bytes do not form what they claim to be. */
export class ManifestError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_MANIFEST", `invalid manifest: ${message}`, { ...options, category: "invalid-input" });
  }
}

export class InvalidPlatformError extends QuaysideError {
  constructor(readonly input: string, reason: string) {
    super("INVALID_PLATFORM", `invalid platform ${quoted(input)}: ${reason}`, { category: "invalid-input" });
  }
}

export class PlatformNotFoundError extends QuaysideError {
  constructor(
    readonly wanted: string,
    readonly available: readonly string[],
    /** What holds the platforms listed: an index, or a single-platform image. */
    holder: "the index has" | "the image is" = "the index has",
  ) {
    super(
      "PLATFORM_NOT_FOUND",
      `no manifest for platform ${bounded(wanted, 100)}; ${holder}: ${available.length > 0 ? bounded(available.join(", ")) : "(no platforms)"}`,
      { category: "not-found" },
    );
  }
}

/**
 * The server sent a manifest of another media type than the one explicitly asked for: there is
 * no manifest of that type to be had (a not-found, as ManifestTypeError one layer up).
 */
export class UnexpectedMediaTypeError extends QuaysideError {
  constructor(
    readonly expected: readonly string[],
    readonly actual: string,
    /** The manifest asked for, for the message: "repo:tag". */
    readonly image?: string,
  ) {
    super(
      "UNEXPECTED_MEDIA_TYPE",
      `${image !== undefined ? `${bounded(image, 160)}: ` : ""}expected media type ${bounded(expected.join(" or "), 240)}, the registry sent ${actual ? quoted(actual) : "(none)"}; ask for that type, or for none to take what is there`,
      { category: "not-found" },
    );
  }
}

/**
 * The image has no manifest of the media type asked for: the registry (or store) holds, or served,
 * another (pubtools-quay's ManifestTypeError). A not-found, like a platform an index lacks:
 * the manifest of that type is not there, whatever else is.
 */
export class ManifestTypeError extends QuaysideError {
  constructor(
    /** The image, as named: "host/ns/repo:tag". */
    readonly image: string,
    /** The types asked for, in order. */
    readonly expected: readonly string[],
    /** What was there instead (several when each request of a preference got another). */
    readonly actual: readonly string[],
    /** The next step, when the caller knows a better one than asking for another type. */
    nextStep = "ask for that type, or for none to take what is there",
  ) {
    const found = actual.length > 0 ? bounded([...new Set(actual)].join(", "), 200) : "nothing";
    super("MANIFEST_TYPE_MISMATCH", `${bounded(image, 160)} has no manifest of type ${bounded(expected.join(" or "), 240)} (got ${found}); ${bounded(nextStep, 200)}`, {
      category: "not-found",
    });
  }
}

/** One entry of a distribution error body: {"errors":[{"code","message","detail"}]}. */
export interface DistributionErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export interface FailedRequest {
  method: string;
  url: string;
}

const NOT_FOUND_CODES: ReadonlySet<ErrorCode> = new Set(["BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", "NOT_FOUND"]);

function categorize(code: ErrorCode, status: number): ErrorCategory {
  if (code === "UNAUTHORIZED" || status === 401) return "unauthorized";
  if (code === "DENIED" || status === 403) return "denied";
  if (NOT_FOUND_CODES.has(code) || status === 404) return "not-found";
  if (code === "TOOMANYREQUESTS" || status === 429) return "network";
  return "protocol";
}

/**
 * An error answer from a registry. `code` is the distribution error code of the first entry
 * (MANIFEST_UNKNOWN, NAME_UNKNOWN, UNAUTHORIZED, DENIED, ...) or a status-derived one when
 * the body carried none; `category` tells not-found from unauthorized from denied.
 */
export class RegistryError extends QuaysideError {
  /** The server's Retry-After (429, 503), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly status: number,
    readonly request: FailedRequest,
    readonly errors: readonly DistributionErrorEntry[],
    /** What this usually means, in words a user can act on. */
    readonly hint?: string,
    /** `message`: the whole sentence, when the registry module can say what failed in a person's words. */
    options?: { message?: string; retryAfterMs?: number },
  ) {
    const code = knownCode(errors[0]?.code) ?? statusCode(status);
    // The status once: "HTTP 404", or the body's codes followed by "(HTTP 404)".
    const what = errors.length > 0 ? `${bounded(errors.map((e) => `${e.code}: ${e.message}`).join("; "))} (HTTP ${status})` : `HTTP ${status}`;
    const message = options?.message ?? `${request.method} ${bounded(redactUrl(request.url))}: ${what}${hint ? `: ${hint}` : ""}`;
    super(code, message, { category: categorize(code, status) });
    this.retryAfterMs = options?.retryAfterMs;
  }
}

function knownCode(code: string | undefined): DistributionErrorCode | undefined {
  return DISTRIBUTION_ERROR_CODES.find((known) => known === code);
}

function statusCode(status: number): ErrorCode {
  switch (status) {
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "DENIED";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "UNSUPPORTED";
    case 429:
      return "TOOMANYREQUESTS";
    default:
      return `HTTP_${status}`;
  }
}

/**
 * An error answer from Quay's REST API. `errorType` is Quay's own (`invalid_token`,
 * `insufficient_scope`, `not_found`, `tag_immutable`, ...) when the body had one; the message
 * says what was asked, what Quay said, and what to do about it.
 */
export class QuayApiError extends QuaysideError {
  constructor(
    readonly status: number,
    readonly request: FailedRequest,
    /** What was being done, in words: "tags of quay.io/org/repo". */
    what: string,
    readonly errorType: string | undefined,
    detail: string | undefined,
    /** What this usually means, in words a user can act on. */
    readonly hint?: string,
  ) {
    const code = statusCode(status);
    super(code, `${what}: ${detail ? `${detail} ` : ""}(HTTP ${status}${errorType ? ` ${errorType}` : ""})${hint ? `: ${hint}` : ""}`, { category: categorize(code, status) });
  }
}

/** The network failed: connection refused, reset, timeout, TLS handshake. */
export class NetworkError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown; code?: "NETWORK_ERROR" | "TIMEOUT" | "TLS_CERTIFICATE" | "TLS_NOT_SUPPORTED" | undefined }) {
    super(options?.code ?? "NETWORK_ERROR", message, { cause: options?.cause, category: "network" });
  }
}

/**
 * A server reply that breaks the protocol: bad header, bad JSON, missing field; code TOO_LARGE
 * for a body past what quayside reads into memory (a hostile endless listing page, say).
 */
export class ProtocolError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown; code?: "PROTOCOL_ERROR" | "TOO_LARGE" }) {
    super(options?.code ?? "PROTOCOL_ERROR", message, { cause: options?.cause, category: "protocol" });
  }
}

/** Refused for safety: credentials over plain HTTP, a redirect to another host with credentials, etc. */
export class InsecureRequestError extends QuaysideError {
  constructor(message: string) {
    super("INSECURE_REQUEST", message, { category: "other" });
  }
}

/** Authentication could not be performed: bad challenge, token server refused, credential helper failed. */
export class AuthenticationError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown; code?: "AUTHENTICATION_FAILED" | "CREDENTIAL_HELPER" | "INVALID_DOCKER_CONFIG" | "UNAUTHORIZED" | "DENIED" }) {
    super(options?.code ?? "AUTHENTICATION_FAILED", message, { cause: options?.cause, category: "unauthorized" });
  }
}

/** Strip userinfo and secret-looking query parameters so URLs can be logged and shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "";
      u.password = "";
    }
    for (const key of [...u.searchParams.keys()]) {
      if (/token|secret|password|signature|credential|^x-amz-|^sig$/i.test(key)) u.searchParams.set(key, "REDACTED");
    }
    return u.toString();
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// Docker schema 1 manifest signatures (libtrust JWS), as python-dxf's verify refuses them.

/** Why a schema 1 signature failed, in a sentence that ends with what to do. */
const SIGNATURE_NEXT_STEP = "do not use this image; fetch it again from its source, or ask its publisher to sign it again";

/**
 * A schema 1 manifest whose signature does not verify: the manifest was changed after signing, the
 * key does not match, or the signature block is malformed. `signatureIndex` is 0-based (undefined
 * when the fault is in the manifest as a whole).
 */
export class SignatureVerificationError extends QuaysideError {
  constructor(
    readonly subject: string,
    readonly signatureIndex: number | undefined,
    readonly reason: string,
  ) {
    const which = signatureIndex === undefined ? "" : `signature ${signatureIndex + 1} of `;
    super("SIGNATURE_INVALID", `${which}${bounded(subject, 200)} does not verify: ${reason}; ${SIGNATURE_NEXT_STEP}`, { category: "integrity" });
  }
}

/** A schema 1 signature made with an algorithm quayside refuses: `none`, HMAC, or anything but ES256/ES384/ES512/RS256. */
export class DisallowedSignatureAlgorithmError extends QuaysideError {
  constructor(
    readonly subject: string,
    readonly signatureIndex: number,
    readonly algorithm: string,
    allowed: readonly string[],
  ) {
    super(
      "SIGNATURE_ALGORITHM_DISALLOWED",
      `signature ${signatureIndex + 1} of ${bounded(subject, 200)} uses algorithm ${quoted(algorithm, 40)}, which is refused (allowed: ${allowed.join(", ")}); ${SIGNATURE_NEXT_STEP}`,
      { category: "integrity" },
    );
  }
}

/**
 * A schema 1 signature whose key is given as an x509 certificate chain (`x5c`) instead of a `jwk`:
 * verifying it would mean trusting a CA, which quayside (like python-dxf) does not do.
 */
export class SignatureChainUnsupportedError extends QuaysideError {
  constructor(
    readonly subject: string,
    readonly signatureIndex: number,
  ) {
    super(
      "SIGNATURE_CHAIN_UNSUPPORTED",
      `signature ${signatureIndex + 1} of ${bounded(subject, 200)} carries an x509 certificate chain (x5c), which quayside does not verify; only signatures with a JWK public key (jwk) are checked`,
      { category: "unsupported" },
    );
  }
}
