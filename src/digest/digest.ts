/**
 * Content digests ("sha256:<hex>") as used by OCI / Docker registries: parsing, computing,
 * streaming hashing and verification. Pure: only node:crypto and node:stream.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError, InvalidDigestError, SizeMismatchError } from "../errors.js";
import { holdError } from "../util/hold-error.js";

export type DigestAlgorithm = "sha256" | "sha512";

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Hex length of each supported algorithm's encoded value. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return Object.hasOwn(DIGEST_HEX_LENGTH, value);
}

/**
 * Why `input` is not a valid digest, or undefined when it is. Lets callers (e.g. reference
 * parsing) report the reason inside their own error type.
 */
export function explainInvalidDigest(input: string): string | undefined {
  if (input === "") return "is empty";
  const colon = input.indexOf(":");
  if (colon < 0) return "missing ':' between algorithm and hex (expected e.g. sha256:<64 hex chars>)";
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    return `unsupported algorithm ${JSON.stringify(algorithm)} (supported: ${Object.keys(DIGEST_HEX_LENGTH).join(", ")})`;
  }
  if (/[A-F]/.test(hex) && /^[0-9a-fA-F]*$/.test(hex)) return "hex must be lowercase";
  if (!/^[0-9a-f]*$/.test(hex)) return "hex must contain only lowercase hexadecimal characters [0-9a-f]";
  const expected = DIGEST_HEX_LENGTH[algorithm];
  if (hex.length !== expected) return `${algorithm} hex has wrong length: expected ${expected} chars, got ${hex.length}`;
  return undefined;
}

export function parseDigest(input: string): ParsedDigest {
  const reason = explainInvalidDigest(input);
  if (reason !== undefined) throw new InvalidDigestError(input, reason);
  const colon = input.indexOf(":");
  // explainInvalidDigest has checked the algorithm, so the cast only narrows the type.
  return { algorithm: input.slice(0, colon) as DigestAlgorithm, hex: input.slice(colon + 1) };
}

export function isDigest(input: string): boolean {
  return explainInvalidDigest(input) === undefined;
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Incremental hasher for content that arrives in chunks; also counts the bytes. */
export class DigestHasher {
  readonly algorithm: DigestAlgorithm;
  #hash: Hash;
  #bytes = 0;
  #result: string | undefined;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    if (!isDigestAlgorithm(algorithm)) throw new InvalidDigestError(String(algorithm), "unsupported algorithm");
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): this {
    if (this.#result !== undefined) throw new Error("DigestHasher.update() called after digest()");
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
    return this;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** "alg:hex". Finalizes the hash; later calls return the same value. */
  digest(): string {
    this.#result ??= `${this.algorithm}:${this.#hash.digest("hex")}`;
    return this.#result;
  }
}

export function verifyDigest(expected: string, data: Uint8Array, what?: string): void {
  const { algorithm } = parseDigest(expected);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) throw new DigestMismatchError(expected, actual, what);
}

/**
 * A pass-through Transform that hashes with expected's algorithm and, at the end, errors with
 * DigestMismatchError (or SizeMismatchError when expectedSize given and differs) instead of finishing.
 * Throws InvalidDigestError synchronously if `expected` is not a digest. A small blob can fail
 * before its consumer attaches: the error then waits in `stream.errored` (see holdError).
 */
export function createVerifyingStream(expected: string, options: { expectedSize?: number; what?: string } = {}): Transform {
  const { algorithm } = parseDigest(expected);
  const { expectedSize, what } = options;
  const hasher = new DigestHasher(algorithm);
  const stream = new Transform({
    transform(chunk: Uint8Array | string, _encoding: BufferEncoding, callback: TransformCallback): void {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      hasher.update(bytes);
      // Fail as soon as the content is too long rather than reading an oversized body to the end.
      if (expectedSize !== undefined && hasher.bytes > expectedSize) {
        callback(new SizeMismatchError(expectedSize, hasher.bytes, what));
        return;
      }
      callback(null, bytes);
    },
    flush(callback: TransformCallback): void {
      if (expectedSize !== undefined && hasher.bytes !== expectedSize) {
        callback(new SizeMismatchError(expectedSize, hasher.bytes, what));
        return;
      }
      const actual = hasher.digest();
      callback(actual === expected ? null : new DigestMismatchError(expected, actual, what));
    },
  });
  verifying.set(stream, { digest: expected, ...(expectedSize !== undefined ? { size: expectedSize } : {}) });
  return holdError(stream);
}

const verifying = new WeakMap<Transform, { digest: string; size?: number }>();

/**
 * What a stream from createVerifyingStream checks: it ends only if its bytes have this digest
 * (and size). Lets a consumer skip hashing the same bytes a second time.
 */
export function verifiedContent(stream: unknown): { digest: string; size?: number } | undefined {
  return stream instanceof Transform ? verifying.get(stream) : undefined;
}
