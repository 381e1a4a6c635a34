/**
 * verifySchema1Signatures on manifests signed here, libtrust's way, with keys made by openssl:
 * valid ES256/ES384/ES512/RS256 signatures verify; a tampered payload, a tampered signature, a
 * wrong key and content outside the signed part fail with SignatureVerificationError; `none` and
 * HS256 are refused; an x5c chain is refused with its own error; unsigned is nothing to verify.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DisallowedSignatureAlgorithmError,
  manifestDigest,
  ManifestError,
  MediaType,
  QuaysideError,
  SignatureChainUnsupportedError,
  SignatureVerificationError,
  schema1SignatureStatus,
  verifySchema1Signatures,
  type InspectSummary,
  type Schema1SignatureStatus,
} from "../../src/index.js";
import { renderSummary } from "../../src/cli/commands/read.js";
import { makeSigningKey, schema1Manifest, selfSignedCertificate, signSchema1, type SigningKey, type SigningKeyKind } from "../harness/schema1-signer.js";

const LAYERS = ["sha256:" + "a1".repeat(32), "sha256:" + "b2".repeat(32)];
const MANIFEST = schema1Manifest("team/app", "1.0", LAYERS);
/** What libtrust signs: the manifest as Docker writes it (3-space indent), before signatures. */
const PAYLOAD = JSON.stringify(MANIFEST, null, 3);
const PAYLOAD_DIGEST = `sha256:${createHash("sha256").update(PAYLOAD).digest("hex")}`;

let dir: string;
const keys = {} as Record<SigningKeyKind, SigningKey>;
let otherP256: SigningKey;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "quayside-schema1-keys-"));
  for (const kind of ["P-256", "P-384", "P-521", "RSA-2048"] as const) keys[kind] = await makeSigningKey(kind, dir);
  otherP256 = await makeSigningKey("P-256", dir, "other-P-256");
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function rejects<E extends QuaysideError>(bytes: Uint8Array, type: new (...args: never[]) => E, check: (err: E) => void): void {
  assert.throws(
    () => verifySchema1Signatures(bytes, { subject: "manifest localhost:5000/team/app:1.0" }),
    (err: unknown) => {
      assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
      assert.ok(!err.message.includes("\n"), "one line");
      assert.match(err.message, /manifest localhost:5000\/team\/app:1\.0/);
      check(err);
      return true;
    },
  );
}

/** The manifest with signature `index`'s protected header replaced (its signature no longer matches it). */
function withProtected(bytes: Buffer, header: Record<string, unknown>, index = 0): Buffer {
  const root = JSON.parse(bytes.toString()) as { signatures: { protected: string }[] };
  const old = root.signatures[index]?.protected ?? assert.fail("no such signature");
  return Buffer.from(bytes.toString().replace(old, Buffer.from(JSON.stringify(header)).toString("base64url")));
}

describe("verifySchema1Signatures: valid signatures", () => {
  for (const [kind, algorithm, curve] of [
    ["P-256", "ES256", "P-256"],
    ["P-384", "ES384", "P-384"],
    ["P-521", "ES512", "P-521"],
    ["RSA-2048", "RS256", undefined],
  ] as const) {
    it(`${algorithm} (${kind} key from openssl) verifies, naming the key by libtrust's ID`, () => {
      const key = keys[kind];
      const bytes = signSchema1(MANIFEST, [{ key, time: "2016-04-18T20:54:42Z" }]);
      const result = verifySchema1Signatures(bytes);
      assert.ok(result !== null);
      assert.equal(result.verified, true);
      assert.equal(result.digest, PAYLOAD_DIGEST);
      // The digest a registry gives it, by the code that computes manifest digests.
      assert.equal(result.digest, manifestDigest(bytes, MediaType.DockerManifestV1Signed));
      assert.equal(result.signatures.length, 1);
      const [signature] = result.signatures;
      assert.equal(signature?.algorithm, algorithm);
      assert.equal(signature?.keyType, curve === undefined ? "RSA" : "EC");
      assert.equal(signature?.curve, curve);
      assert.equal(signature?.keyBits, curve === undefined ? 2048 : undefined);
      // The harness computes the fingerprint on its own; the registry checks it against the key too.
      assert.equal(signature?.keyId, key.jwk.kid);
      assert.equal(signature?.statedKeyId, key.jwk.kid);
      assert.equal(signature?.signedAt, "2016-04-18T20:54:42Z");
    });
  }

  it("every signature of a manifest signed twice (ES256 and RS256) is checked and listed", () => {
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"] }, { key: keys["RSA-2048"] }]);
    const result = verifySchema1Signatures(bytes);
    assert.deepEqual(
      result?.signatures.map((s) => [s.algorithm, s.keyId]),
      [
        ["ES256", keys["P-256"].jwk.kid],
        ["RS256", keys["RSA-2048"].jwk.kid],
      ],
    );
  });

  it("nothing to verify: an unsigned schema 1 manifest, or a schema 2 one", () => {
    assert.equal(verifySchema1Signatures(Buffer.from(PAYLOAD)), null);
    const v2 = { schemaVersion: 2, mediaType: MediaType.DockerManifestV2, config: { mediaType: MediaType.DockerConfig, digest: LAYERS[0], size: 1 }, layers: [] };
    assert.equal(verifySchema1Signatures(Buffer.from(JSON.stringify(v2))), null);
  });
});

describe("verifySchema1Signatures: failures", () => {
  it("a payload changed after signing fails with SIGNATURE_INVALID naming the signature", () => {
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"] }]);
    const tampered = Buffer.from(bytes.toString().replace('"architecture": "amd64"', '"architecture": "arm64"'));
    assert.notDeepEqual(tampered, bytes);
    rejects(tampered, SignatureVerificationError, (err) => {
      assert.equal(err.code, "SIGNATURE_INVALID");
      assert.equal(err.category, "integrity");
      assert.equal(err.signatureIndex, 0);
      assert.match(err.message, /^signature 1 of manifest .* does not verify: the ES256 signature does not match/);
    });
    const rsa = signSchema1(MANIFEST, [{ key: keys["RSA-2048"] }]);
    rejects(Buffer.from(rsa.toString().replace(LAYERS[1] as string, LAYERS[0] as string)), SignatureVerificationError, (err) => assert.match(err.message, /RS256 signature does not match/));
  });

  it("a changed signature, or another key's, fails", () => {
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"] }]);
    const root = JSON.parse(bytes.toString()) as { signatures: { signature: string; header: { jwk: object } }[] };
    const signature = root.signatures[0]?.signature ?? assert.fail("no signature");
    const flipped = Buffer.from(signature, "base64url");
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    rejects(Buffer.from(bytes.toString().replace(signature, flipped.toString("base64url"))), SignatureVerificationError, (err) => assert.equal(err.signatureIndex, 0));

    // Signed by one P-256 key, claiming another P-256 key's public key; or a P-384 key for ES256.
    const withJwk = (jwk: object): Buffer => Buffer.from(bytes.toString().replace(/"jwk": \{[^}]*\}/, `"jwk": ${JSON.stringify(jwk)}`));
    rejects(withJwk(otherP256.jwk), SignatureVerificationError, (err) => assert.match(err.message, /ES256 signature does not match/));
    rejects(withJwk(keys["P-384"].jwk), SignatureVerificationError, (err) => assert.match(err.message, /ES256 needs an EC P-256 key/));
    rejects(withJwk(keys["RSA-2048"].jwk), SignatureVerificationError, (err) => assert.match(err.message, /ES256 needs an EC P-256 key/));
    rejects(withJwk({ ...keys["P-256"].jwk, x: keys["P-256"].jwk.y }), SignatureVerificationError, (err) => assert.match(err.message, /not a valid public key|does not match/));
  });

  it("the second of two signatures failing fails the manifest, naming signature 2", () => {
    const good = signSchema1(MANIFEST, [{ key: keys["P-256"] }, { key: keys["P-384"] }]);
    const root = JSON.parse(good.toString()) as { signatures: { signature: string }[] };
    const second = root.signatures[1]?.signature ?? assert.fail("no second signature");
    const broken = Buffer.from(second, "base64url");
    broken[0] = (broken[0] ?? 0) ^ 0xff;
    rejects(Buffer.from(good.toString().replace(second, broken.toString("base64url"))), SignatureVerificationError, (err) => {
      assert.equal(err.signatureIndex, 1);
      assert.match(err.message, /^signature 2 of /);
    });
  });

  it("content outside the signed part (a member after the signatures) fails, though each signature verifies", () => {
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"] }]);
    const text = bytes.toString();
    // JSON readers take the last of duplicate members: this would change the architecture unseen.
    const smuggled = Buffer.from(`${text.slice(0, text.lastIndexOf("\n}"))},\n   "architecture": "s390x"\n}`);
    assert.equal((JSON.parse(smuggled.toString()) as { architecture: string }).architecture, "s390x");
    rejects(smuggled, SignatureVerificationError, (err) => {
      assert.equal(err.signatureIndex, undefined);
      assert.match(err.message, /something other than what was signed/);
    });
  });

  for (const algorithm of ["none", "HS256", "RS512", "ES256K"]) {
    it(`algorithm ${algorithm} is refused with DisallowedSignatureAlgorithmError`, () => {
      const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"], algorithm }]);
      rejects(bytes, DisallowedSignatureAlgorithmError, (err) => {
        assert.equal(err.code, "SIGNATURE_ALGORITHM_DISALLOWED");
        assert.equal(err.algorithm, algorithm);
        assert.equal(err.signatureIndex, 0);
        assert.match(err.message, /allowed: ES256, ES384, ES512, RS256/);
      });
    });
  }

  it("a key given as an x509 chain (x5c) is refused with SignatureChainUnsupportedError", async () => {
    const certificate = await selfSignedCertificate(keys["P-256"], dir);
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"], x5c: [certificate] }]);
    rejects(bytes, SignatureChainUnsupportedError, (err) => {
      assert.equal(err.code, "SIGNATURE_CHAIN_UNSUPPORTED");
      assert.equal(err.category, "unsupported");
      assert.match(err.message, /x509 certificate chain \(x5c\)/);
    });
  });

  it("bounded: an absurd formatLength, too many signatures, an oversized manifest", () => {
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"] }]);
    rejects(withProtected(bytes, { formatLength: 1e15, formatTail: "Cn0" }), SignatureVerificationError, (err) => assert.match(err.message, /formatLength must be an integer between 1 and/));
    rejects(withProtected(bytes, { formatLength: bytes.length + 1, formatTail: "Cn0" }), SignatureVerificationError, (err) => assert.match(err.message, /formatLength/));
    rejects(withProtected(bytes, { formatLength: "12", formatTail: "Cn0" }), SignatureVerificationError, (err) => assert.match(err.message, /formatLength/));

    const many = signSchema1(MANIFEST, Array.from({ length: 33 }, () => ({ key: keys["P-256"] })));
    rejects(many, SignatureVerificationError, (err) => assert.match(err.message, /33 signatures/));

    const huge = Buffer.concat([Buffer.from(PAYLOAD.slice(0, -2)), Buffer.from(`,\n   "pad": "${"x".repeat(4 * 1024 * 1024)}"\n}`)]);
    assert.throws(() => verifySchema1Signatures(huge), ManifestError);
  });

  it("signatures whose protected headers rebuild different content fail", () => {
    // Distinct times, so that the two protected headers differ as text.
    const bytes = signSchema1(MANIFEST, [{ key: keys["P-256"], time: "2016-01-01T00:00:00Z" }, { key: keys["P-384"], time: "2016-01-02T00:00:00Z" }]);
    const first = JSON.parse(Buffer.from((JSON.parse(bytes.toString()) as { signatures: { protected: string }[] }).signatures[0]?.protected ?? "", "base64url").toString()) as { formatLength: number; formatTail: string };
    rejects(withProtected(bytes, { ...first, formatLength: first.formatLength - 1 }, 1), SignatureVerificationError, (err) => {
      assert.equal(err.signatureIndex, 1);
      assert.match(err.message, /other content than signature 1's/);
    });
  });
});

describe("schema1SignatureStatus and inspect's text line", () => {
  const reference = "localhost:5000/team/app:1.0";
  const summary = (signature: Schema1SignatureStatus): InspectSummary => ({ kind: "schema1", reference, digest: PAYLOAD_DIGEST, mediaType: MediaType.DockerManifestV1Signed, platform: "linux/amd64", layers: [], signature });
  const signatureLine = (status: Schema1SignatureStatus): string[] => renderSummary(summary(status)).filter((line) => line.startsWith("Signature:"));

  it("verified: who signed, in one line", () => {
    const status = schema1SignatureStatus(signSchema1(MANIFEST, [{ key: keys["P-256"] }, { key: keys["RSA-2048"] }]), reference);
    assert.equal(status.status, "verified");
    assert.deepEqual(signatureLine(status), [`Signature:   verified: ES256 by key ${keys["P-256"].jwk.kid}; RS256 by key ${keys["RSA-2048"].jwk.kid}`]);
  });

  it("unsigned: none", () => {
    const status = schema1SignatureStatus(Buffer.from(PAYLOAD), reference);
    assert.deepEqual(status, { status: "unsigned" });
    assert.deepEqual(signatureLine(status), ["Signature:   none (unsigned)"]);
  });

  it("failed: the code and the error's message, naming the manifest; refused algorithms and chains too", async () => {
    const tampered = Buffer.from(signSchema1(MANIFEST, [{ key: keys["P-256"] }]).toString().replace('"tag": "1.0"', '"tag": "2.0"'));
    const status = schema1SignatureStatus(tampered, reference);
    assert.equal(status.status, "failed");
    if (status.status !== "failed") return;
    assert.equal(status.code, "SIGNATURE_INVALID");
    assert.match(status.message, /^signature 1 of manifest localhost:5000\/team\/app:1\.0 does not verify/);
    assert.deepEqual(signatureLine(status), [`Signature:   FAILED (SIGNATURE_INVALID): ${status.message}`]);
    assert.deepEqual(pick(schema1SignatureStatus(signSchema1(MANIFEST, [{ key: keys["P-256"], algorithm: "none" }]), reference)), ["failed", "SIGNATURE_ALGORITHM_DISALLOWED"]);
    const chain = signSchema1(MANIFEST, [{ key: keys["P-256"], x5c: [await selfSignedCertificate(keys["P-256"], dir)] }]);
    assert.deepEqual(pick(schema1SignatureStatus(chain, reference)), ["failed", "SIGNATURE_CHAIN_UNSUPPORTED"]);
  });

  it("other errors are not a status: a manifest that is not JSON throws", () => {
    assert.throws(() => schema1SignatureStatus(Buffer.from("{not json"), reference), ManifestError);
  });
});

function pick(status: Schema1SignatureStatus): string[] {
  return status.status === "failed" ? [status.status, status.code] : [status.status];
}
