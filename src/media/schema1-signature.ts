/**
 * Verification of signed Docker schema 1 manifests (libtrust's "pretty JWS"), with python-dxf's
 * meaning: verified when every signature verifies, nothing to verify when the manifest carries
 * no signatures, an error otherwise. Pure: only node:crypto and node:util, no I/O.
 *
 * libtrust signs the manifest as it was before the "signatures" member was spliced in. Each
 * signature's protected header says how to get those bytes back: the first `formatLength` bytes
 * of the manifest followed by `formatTail` (base64url; usually "\n}"). The JWS signing input is
 * `protected + "." + base64url(payload)`, signed by the key in the header's `jwk`.
 */
import { createHash, createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { digestOf } from "../digest/digest.js";
import { bounded, DisallowedSignatureAlgorithmError, ManifestError, SignatureChainUnsupportedError, SignatureVerificationError } from "../errors.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";

/** The algorithms quayside accepts, as libtrust signs: ECDSA on P-256/P-384/P-521 and RSA PKCS#1 v1.5 with SHA-256. */
export const SCHEMA1_SIGNATURE_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256"] as const;
export type Schema1SignatureAlgorithm = (typeof SCHEMA1_SIGNATURE_ALGORITHMS)[number];

export type Schema1Curve = "P-256" | "P-384" | "P-521";

/** One signature that verified. */
export interface VerifiedSchema1Signature {
  algorithm: Schema1SignatureAlgorithm;
  keyType: "EC" | "RSA";
  /** EC keys: the curve. */
  curve?: Schema1Curve;
  /** RSA keys: the modulus size in bits. */
  keyBits?: number;
  /**
   * libtrust's fingerprint of the public key ("ABCD:EFGH:...:MNOP": SHA-256 of its DER
   * SubjectPublicKeyInfo, 240 bits, base32 in 12 groups), computed from the key itself.
   */
  keyId: string;
  /** The `kid` the JWK stated, when it stated one (not trusted: keyId is what the key is). */
  statedKeyId?: string;
  /** The `time` of the protected header: when the signer says it signed (not checked). */
  signedAt?: string;
}

/** Every signature of a schema 1 manifest verified. */
export interface Schema1Verification {
  verified: true;
  /** The digest of the signed payload: the manifest's digest, as a registry computes it. */
  digest: string;
  signatures: VerifiedSchema1Signature[];
}

export interface VerifySchema1Options {
  /** What the manifest is, for error messages: "manifest localhost:5000/team/app:1.0". */
  subject?: string;
}

/** Limits on input that is only ever small when honest. */
const MAX_SIGNATURES = 32;
const MAX_PROTECTED_HEADER_CHARS = 8 * 1024;
const MAX_SIGNATURE_CHARS = 4 * 1024;
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 16384;

const CURVE_OF: Readonly<Record<"ES256" | "ES384" | "ES512", { curve: Schema1Curve; hash: string; octets: number }>> = {
  ES256: { curve: "P-256", hash: "sha256", octets: 32 },
  ES384: { curve: "P-384", hash: "sha384", octets: 48 },
  ES512: { curve: "P-521", hash: "sha512", octets: 66 },
};

type JsonObject = Record<string, unknown>;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAllowedAlgorithm(value: string): value is Schema1SignatureAlgorithm {
  return (SCHEMA1_SIGNATURE_ALGORITHMS as readonly string[]).includes(value);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

/** Where a check is: `fail` throws SignatureVerificationError naming the signature (or the whole manifest). */
interface SignatureContext {
  fail(reason: string): never;
}

function contextFor(subject: string, index: number | undefined): SignatureContext {
  return {
    fail(reason: string): never {
      throw new SignatureVerificationError(subject, index, reason);
    },
  };
}

function decodeBase64Url(value: unknown, what: string, maxChars: number, context: SignatureContext): Buffer {
  if (typeof value !== "string") context.fail(`${what} is missing or not a string`);
  if (value.length > maxChars) context.fail(`${what} is ${value.length} characters long (at most ${maxChars})`);
  // Unpadded base64url only (JOSE); length 1 mod 4 can hold no whole byte.
  if (!BASE64URL.test(value) || value.length % 4 === 1) context.fail(`${what} is not unpadded base64url`);
  return Buffer.from(value, "base64url");
}

interface ProtectedHeader {
  /** As it stands in the manifest: the first part of the JWS signing input. */
  encoded: string;
  formatLength: number;
  formatTail: Buffer;
  time?: string;
}

function readProtectedHeader(signature: JsonObject, manifestLength: number, context: SignatureContext): ProtectedHeader {
  const encoded = signature["protected"];
  const decoded = decodeBase64Url(encoded, '"protected"', MAX_PROTECTED_HEADER_CHARS, context);
  const header = parseJson(decoded);
  if (!isJsonObject(header)) context.fail('"protected" does not decode to a JSON object');
  const formatLength = header["formatLength"];
  if (typeof formatLength !== "number" || !Number.isSafeInteger(formatLength) || formatLength < 1 || formatLength > manifestLength) {
    context.fail(`protected formatLength must be an integer between 1 and the manifest's ${manifestLength} bytes, got ${bounded(JSON.stringify(formatLength) ?? "nothing", 40)}`);
  }
  const formatTail = decodeBase64Url(header["formatTail"], "protected formatTail", MAX_PROTECTED_HEADER_CHARS, context);
  const time = header["time"];
  return { encoded: encoded as string, formatLength, formatTail, ...(typeof time === "string" ? { time: bounded(time, 64) } : {}) };
}

interface PublicKeyInfo {
  key: KeyObject;
  keyType: "EC" | "RSA";
  curve?: Schema1Curve;
  keyBits?: number;
}

/** The `jwk` as a public key that fits `algorithm`; only the members that make the key are used. */
function importKey(jwk: unknown, algorithm: Schema1SignatureAlgorithm, context: SignatureContext): PublicKeyInfo {
  if (!isJsonObject(jwk)) context.fail('the header has no "jwk" public key');
  const kty = jwk["kty"];
  if (algorithm === "RS256") {
    if (kty !== "RSA") context.fail(`algorithm RS256 needs an RSA key, the jwk is ${bounded(JSON.stringify(kty) ?? "of no type", 40)}`);
    const n = decodeBase64Url(jwk["n"], "jwk n", 4096, context);
    decodeBase64Url(jwk["e"], "jwk e", 16, context);
    const key = toPublicKey({ kty: "RSA", n: jwk["n"] as string, e: jwk["e"] as string }, context);
    const keyBits = key.asymmetricKeyDetails?.modulusLength ?? n.byteLength * 8;
    if (keyBits < RSA_MIN_BITS || keyBits > RSA_MAX_BITS) context.fail(`the RSA key has ${keyBits} bits (${RSA_MIN_BITS} to ${RSA_MAX_BITS} accepted)`);
    return { key, keyType: "RSA", keyBits };
  }
  const { curve, octets } = CURVE_OF[algorithm];
  if (kty !== "EC" || jwk["crv"] !== curve) {
    context.fail(`algorithm ${algorithm} needs an EC ${curve} key, the jwk is ${bounded(`${JSON.stringify(kty) ?? "?"} ${JSON.stringify(jwk["crv"]) ?? ""}`, 60)}`);
  }
  // libtrust insists on coordinates of exactly the curve's size (leading zeros kept).
  for (const coordinate of ["x", "y"] as const) {
    const bytes = decodeBase64Url(jwk[coordinate], `jwk ${coordinate}`, 128, context);
    if (bytes.byteLength !== octets) context.fail(`jwk ${coordinate} is ${bytes.byteLength} bytes, ${curve} needs ${octets}`);
  }
  return { key: toPublicKey({ kty: "EC", crv: curve, x: jwk["x"] as string, y: jwk["y"] as string }, context), keyType: "EC", curve };
}

function toPublicKey(jwk: JsonWebKey, context: SignatureContext): KeyObject {
  try {
    // Node checks that an EC point lies on its curve.
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (err) {
    return context.fail(`the jwk is not a valid public key (${bounded(err instanceof Error ? err.message : String(err), 100)})`);
  }
}

/** libtrust's key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 in groups of 4. */
export function libtrustKeyId(key: KeyObject): string {
  const der = key.export({ type: "spki", format: "der" });
  const hash = createHash("sha256").update(der).digest().subarray(0, 30);
  return base32(hash).match(/.{4}/g)?.join(":") ?? "";
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding (30 bytes give exactly 48 characters). */
function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function checkSignature(signingInput: Buffer, signature: Buffer, algorithm: Schema1SignatureAlgorithm, info: PublicKeyInfo, context: SignatureContext): void {
  let ok: boolean;
  if (algorithm === "RS256") {
    ok = verifySignature("sha256", signingInput, info.key, signature);
  } else {
    const { hash, octets } = CURVE_OF[algorithm];
    // JWS ECDSA signatures are r||s, each exactly the curve's size.
    if (signature.byteLength !== 2 * octets) context.fail(`the ${algorithm} signature is ${signature.byteLength} bytes, it must be ${2 * octets}`);
    ok = verifySignature(hash, signingInput, { key: info.key, dsaEncoding: "ieee-p1363" }, signature);
  }
  if (!ok) context.fail(`the ${algorithm} signature does not match the signed content (the manifest was changed after it was signed, or the signature was made with another key)`);
}

/**
 * Verifies every JWS signature of a schema 1 manifest (the exact bytes, as served).
 *
 * Returns null when there is nothing to verify (no "signatures" member, or not a schema 1
 * manifest). Throws DisallowedSignatureAlgorithmError for an algorithm other than ES256, ES384,
 * ES512 and RS256 (`none`, `HS256`, ...), SignatureChainUnsupportedError for a key given as an
 * x509 chain (`x5c`), SignatureVerificationError when a signature does not verify or cannot be
 * read, or when the signed content differs from what the manifest says; ManifestError when the
 * bytes are not a JSON object or are larger than a registry accepts.
 */
export function verifySchema1Signatures(manifestBytes: Uint8Array, options: VerifySchema1Options = {}): Schema1Verification | null {
  const subject = options.subject ?? "schema 1 manifest";
  if (manifestBytes.byteLength > MANIFEST_SIZE_LIMIT) {
    throw new ManifestError(`${bounded(subject)} is ${manifestBytes.byteLength} bytes, more than the ${MANIFEST_SIZE_LIMIT} a registry accepts`);
  }
  const bytes = Buffer.from(manifestBytes.buffer, manifestBytes.byteOffset, manifestBytes.byteLength);
  const manifest = parseJson(bytes);
  if (!isJsonObject(manifest)) throw new ManifestError(`${bounded(subject)} is not a JSON object`);
  if (manifest["schemaVersion"] !== 1 || manifest["signatures"] === undefined) return null;

  const whole: SignatureContext = contextFor(subject, undefined);
  const signatures = manifest["signatures"];
  if (!Array.isArray(signatures) || signatures.length === 0) whole.fail('"signatures" is not a list of signatures');
  if (signatures.length > MAX_SIGNATURES) whole.fail(`it has ${signatures.length} signatures (at most ${MAX_SIGNATURES} are checked)`);

  let payload: Buffer | undefined;
  const verified: VerifiedSchema1Signature[] = [];
  signatures.forEach((entry: unknown, index) => {
    const context: SignatureContext = contextFor(subject, index);
    if (!isJsonObject(entry)) context.fail("it is not a JSON object");
    const header = entry["header"];
    if (!isJsonObject(header)) context.fail('it has no "header" object');
    // As python-dxf: the algorithm is judged first, then a certificate chain refused, then the key read.
    const algorithm = header["alg"];
    if (typeof algorithm !== "string" || !isAllowedAlgorithm(algorithm)) {
      throw new DisallowedSignatureAlgorithmError(subject, index, typeof algorithm === "string" ? algorithm : String(JSON.stringify(algorithm) ?? "(none)"), SCHEMA1_SIGNATURE_ALGORITHMS);
    }
    if (header["x5c"] !== undefined || header["chain"] !== undefined) throw new SignatureChainUnsupportedError(subject, index);

    const format = readProtectedHeader(entry, bytes.byteLength, context);
    const rebuilt = Buffer.concat([bytes.subarray(0, format.formatLength), format.formatTail]);
    // libtrust refuses signatures that disagree on the payload: there is one signed content.
    if (payload === undefined) payload = rebuilt;
    else if (!payload.equals(rebuilt)) context.fail("its protected header rebuilds other content than signature 1's");

    const info = importKey(header["jwk"], algorithm, context);
    const signature = decodeBase64Url(entry["signature"], '"signature"', MAX_SIGNATURE_CHARS, context);
    const signingInput = Buffer.from(`${format.encoded}.${rebuilt.toString("base64url")}`, "ascii");
    checkSignature(signingInput, signature, algorithm, info, context);

    const kid = header["jwk"] !== undefined && isJsonObject(header["jwk"]) ? header["jwk"]["kid"] : undefined;
    verified.push({
      algorithm,
      keyType: info.keyType,
      ...(info.curve !== undefined ? { curve: info.curve } : {}),
      ...(info.keyBits !== undefined ? { keyBits: info.keyBits } : {}),
      keyId: libtrustKeyId(info.key),
      ...(typeof kid === "string" ? { statedKeyId: bounded(kid, 100) } : {}),
      ...(format.time !== undefined ? { signedAt: format.time } : {}),
    });
  });

  // What was signed must be what the manifest says: the manifest without its signatures, read the
  // same way. Bytes after formatLength are not signed, so a member added there would otherwise
  // change the manifest unseen (JSON readers take the last of duplicate members).
  const signed = parseJson(payload as Buffer);
  if (!isJsonObject(signed) || signed["signatures"] !== undefined) whole.fail("the signed content is not a manifest without signatures");
  const { signatures: _signatures, ...unsigned } = manifest;
  if (!isDeepStrictEqual(unsigned, signed)) whole.fail("the manifest says something other than what was signed (members outside the signed content)");

  return { verified: true, digest: digestOf(payload as Buffer), signatures: verified };
}
