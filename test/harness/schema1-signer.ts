/**
 * Signs Docker schema 1 manifests the way libtrust lays them out (a "pretty JWS"), with keys made
 * by the openssl CLI, so tests can check quayside's verification against signatures it did not
 * make itself. Written from libtrust's format, independently of src/: the protected header holds
 * formatLength (the payload's bytes before its closing brace) and formatTail (the rest,
 * base64url); the signing input is `protected + "." + base64url(payload)`; ECDSA signatures are
 * r||s; the JWK carries libtrust's key ID (the registry refuses a `kid` that does not match).
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, X509Certificate, type JsonWebKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./exec.js";

export type SigningKeyKind = "P-256" | "P-384" | "P-521" | "RSA-2048";

export interface SigningKey {
  kind: SigningKeyKind;
  /** The algorithm this key signs with, as libtrust picks it. */
  algorithm: "ES256" | "ES384" | "ES512" | "RS256";
  privateKey: KeyObject;
  /** The public JWK as libtrust writes it: kty, crv/x/y or n/e, and kid. */
  jwk: JsonWebKey & { kid: string };
  /** PEM private key file written by openssl. */
  keyFile: string;
}

const OPENSSL_CURVE: Record<Exclude<SigningKeyKind, "RSA-2048">, string> = { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" };
const ALGORITHM: Record<SigningKeyKind, SigningKey["algorithm"]> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "RSA-2048": "RS256" };
const HASH: Record<SigningKey["algorithm"], string> = { ES256: "sha256", ES384: "sha384", ES512: "sha512", RS256: "sha256" };

/** A new key from `openssl`, written to DIR/NAME.pem. */
export async function makeSigningKey(kind: SigningKeyKind, dir: string, name: string = kind): Promise<SigningKey> {
  const keyFile = join(dir, `${name}.pem`);
  if (kind === "RSA-2048") await run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile]);
  else await run("openssl", ["ecparam", "-name", OPENSSL_CURVE[kind], "-genkey", "-noout", "-out", keyFile]);
  const privateKey = createPrivateKey(await readFile(keyFile));
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: "jwk" });
  const jwk = kind === "RSA-2048" ? { kty: "RSA", n: exported.n, e: exported.e } : { kty: "EC", crv: kind, x: exported.x, y: exported.y };
  return { kind, algorithm: ALGORITHM[kind], privateKey, jwk: { ...jwk, kid: libtrustFingerprint(publicKey) }, keyFile };
}

/** A self-signed certificate for the key (openssl), as base64 DER: what an `x5c` chain holds. */
export async function selfSignedCertificate(key: SigningKey, dir: string): Promise<string> {
  const certFile = join(dir, `${key.kind}.crt`);
  await run("openssl", ["req", "-x509", "-new", "-key", key.keyFile, "-subj", "/CN=quayside schema1 signer", "-days", "1", "-out", certFile]);
  return Buffer.from(new X509Certificate(await readFile(certFile)).raw).toString("base64");
}

/** libtrust's key ID, computed here on its own: SHA-256 of the DER public key, 240 bits, base32, groups of 4. */
export function libtrustFingerprint(publicKey: KeyObject): string {
  const hash = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const byte of hash) bits += byte.toString(2).padStart(8, "0");
  let text = "";
  for (let i = 0; i < bits.length; i += 5) text += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, "0"), 2)];
  return (text.match(/.{1,4}/g) ?? []).join(":");
}

export interface SignatureSpec {
  key: SigningKey;
  /** Put this in the header's `alg` instead of the key's algorithm ("none", "HS256", ...). */
  algorithm?: string;
  /** x509 chain (base64 DER) to carry in `x5c` instead of the `jwk`, as libtrust's SignWithChain does. */
  x5c?: string[];
  /** Protected header's time (default: now). */
  time?: string;
}

/**
 * A schema 1 manifest (pretty JSON, 3-space indent, as Docker writes it) signed by each spec in
 * turn, laid out as libtrust's PrettySignature does: the payload up to its last member, then
 * `,\n   "signatures": [...]`, then `\n}`.
 */
export function signSchema1(manifest: object, specs: readonly SignatureSpec[]): Buffer {
  const payload = JSON.stringify(manifest, null, 3);
  const close = payload.lastIndexOf("}");
  let formatLength = close;
  while (formatLength > 0 && /\s/.test(payload[formatLength - 1] ?? "")) formatLength--;
  const formatTail = payload.slice(formatLength);
  const encodedPayload = Buffer.from(payload).toString("base64url");
  const signatures = specs.map((spec) => {
    const protectedHeader = Buffer.from(JSON.stringify({ formatLength: Buffer.byteLength(payload.slice(0, formatLength)), formatTail: Buffer.from(formatTail).toString("base64url"), time: spec.time ?? new Date().toISOString().replace(/\.\d+Z$/, "Z") })).toString("base64url");
    const signingInput = Buffer.from(`${protectedHeader}.${encodedPayload}`);
    const algorithm = spec.algorithm ?? spec.key.algorithm;
    let signature: Buffer;
    if (algorithm === "none") signature = Buffer.alloc(0);
    else if (algorithm.startsWith("HS")) signature = createHmac("sha256", "a shared secret anyone may know").update(signingInput).digest();
    else if (spec.key.algorithm === "RS256") signature = sign(HASH[spec.key.algorithm], signingInput, spec.key.privateKey);
    else signature = sign(HASH[spec.key.algorithm], signingInput, { key: spec.key.privateKey, dsaEncoding: "ieee-p1363" });
    const header = spec.x5c !== undefined ? { x5c: spec.x5c, alg: algorithm } : { jwk: spec.key.jwk, alg: algorithm };
    return { header, signature: signature.toString("base64url"), protected: protectedHeader };
  });
  const block = JSON.stringify(signatures, null, 3).split("\n").join("\n   ");
  return Buffer.from(`${payload.slice(0, formatLength)},\n   "signatures": ${block}\n}`);
}

/** A schema 1 manifest body for REPO:TAG with these layer digests (history entries to match). */
export function schema1Manifest(repository: string, tag: string, layerDigests: readonly string[], architecture = "amd64"): object {
  return {
    schemaVersion: 1,
    name: repository,
    tag,
    architecture,
    fsLayers: layerDigests.map((blobSum) => ({ blobSum })),
    history: layerDigests.map((_, i) => ({ v1Compatibility: JSON.stringify({ id: createHash("sha256").update(`${repository}:${tag}:${i}`).digest("hex"), created: "2016-01-01T00:00:00Z", architecture, os: "linux" }) })),
  };
}
