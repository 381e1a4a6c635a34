/**
 * Signed schema 1 manifests and the real registry (CNCF distribution 2.8).
 *
 * distribution refuses schema 1 pushes unless `compatibility.schema1.enabled` is set (500,
 * "manifest schema v1 unsupported"). With it, the registry verifies the pushed JWS (a bad one is
 * refused), stores the signed payload only, and serves the manifest signed again by its own key
 * (`compatibility.schema1.signingkeyfile`, here an RSA key made by openssl): so what is read back
 * is the same payload (same digest) under the registry's RS256 signature, which quayside verifies.
 */
import * as assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  digestOf,
  inspect,
  MediaType,
  RegistryClient,
  RegistryError,
  SignatureVerificationError,
  verifyManifestSignatures,
  verifySchema1Signatures,
  type InspectSummary,
} from "../../src/index.js";
import { run } from "../harness/exec.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { libtrustFingerprint, makeSigningKey, schema1Manifest, signSchema1, type SigningKey } from "../harness/schema1-signer.js";
import { runCli } from "./helpers.js";

const REPOSITORY = "legacy/app";
const options = { configFiles: false, retry: { retries: 0 } } as const;

let env: TestEnvironment;
let dir: string;
let registry: RunningRegistry;
/** The key the registry signs what it serves with, and libtrust's ID for it. */
let registryKeyId: string;
let signer: SigningKey;
let client: RegistryClient;
let layerDigest: string;

before(async () => {
  env = await getTestEnvironment();
  dir = await mkdtemp(join(tmpdir(), "quayside-schema1-"));
  // libtrust reads "RSA PRIVATE KEY" (PKCS#1), not PKCS#8: hence -traditional.
  const registryKeyFile = join(dir, "registry-key.pem");
  await run("openssl", ["genrsa", "-traditional", "-out", registryKeyFile, "2048"]);
  registryKeyId = libtrustFingerprint(createPublicKey(createPrivateKey(await readFile(registryKeyFile))));
  [registry, signer] = await Promise.all([startRegistry({ mode: "anonymous", schema1: { signingKeyFile: registryKeyFile } }), makeSigningKey("P-256", dir)]);
  client = new RegistryClient(registry.host, { dockerConfig: false, retry: { retries: 0 } });
  // Schema 1 names its layers by blobSum; the registry wants them present.
  const layer = gzipSync(Buffer.from("a schema 1 layer\n"));
  layerDigest = (await client.pushBlob(REPOSITORY, layer)).descriptor.digest;
  assert.equal(layerDigest, digestOf(layer));
});
after(async () => {
  await client?.close();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Signs a schema 1 manifest for TAG with the test's ES256 key; returns it and its payload digest. */
function signed(tag: string): { bytes: Buffer; payloadDigest: string } {
  const manifest = schema1Manifest(REPOSITORY, tag, [layerDigest]);
  return { bytes: signSchema1(manifest, [{ key: signer }]), payloadDigest: digestOf(JSON.stringify(manifest, null, 3)) };
}

function assertRegistrySigned(summary: InspectSummary, payloadDigest: string): void {
  assert.equal(summary.kind, "schema1");
  if (summary.kind !== "schema1") return;
  assert.equal(summary.digest, payloadDigest);
  assert.equal(summary.mediaType, MediaType.DockerManifestV1Signed);
  assert.deepEqual(summary.layers, [{ digest: layerDigest }]);
  assert.equal(summary.signature.status, "verified", JSON.stringify(summary.signature));
  if (summary.signature.status !== "verified") return;
  assert.deepEqual(
    summary.signature.signatures.map((s) => [s.algorithm, s.keyType, s.keyBits, s.keyId]),
    [["RS256", "RSA", 2048, registryKeyId]],
  );
}

describe("a signed schema 1 manifest through the real registry", () => {
  test("pushed with an ES256 signature made here, read back signed by the registry's RS256 key, verified", async () => {
    const { bytes, payloadDigest } = signed("es256");
    // What we push verifies on our side, by the key that signed it.
    const ours = verifySchema1Signatures(bytes);
    assert.deepEqual(ours?.signatures.map((s) => [s.algorithm, s.keyId]), [["ES256", signer.jwk.kid]]);
    const pushed = await client.putManifest(REPOSITORY, "es256", bytes, { mediaType: MediaType.DockerManifestV1Signed });
    assert.equal(pushed.digest, payloadDigest);

    const location = `${registry.host}/${REPOSITORY}:es256`;
    const served = await client.getManifest(REPOSITORY, "es256");
    assert.notDeepEqual(Buffer.from(served.bytes), bytes, "the registry serves its own signature, not ours");
    assertRegistrySigned(await inspect(location, options), payloadDigest);

    const verified = await verifyManifestSignatures(location, options);
    assert.equal(verified?.digest, payloadDigest);
    assert.deepEqual(verified?.signatures.map((s) => s.keyId), [registryKeyId]);
    // By digest too: the same payload, the same verdict.
    assert.equal((await verifyManifestSignatures(`${registry.host}/${REPOSITORY}@${payloadDigest}`, options))?.digest, payloadDigest);
  });

  test("CLI inspect: --json carries the signature status; the text says it in one line", async () => {
    const { bytes, payloadDigest } = signed("cli");
    await client.putManifest(REPOSITORY, "cli", bytes, { mediaType: MediaType.DockerManifestV1Signed });
    const location = `${registry.host}/${REPOSITORY}:cli`;
    const json = await runCli(["--json", "inspect", location]);
    assert.equal(json.code, 0, json.stderr);
    assertRegistrySigned(JSON.parse(json.out) as InspectSummary, payloadDigest);

    const text = await runCli(["inspect", location]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.out.split("\n").filter((line) => line.startsWith("Signature:"));
    assert.deepEqual(lines, [`Signature:   verified: RS256 by key ${registryKeyId}`]);
  });

  test("a tampered manifest is refused by the registry (MANIFEST_UNVERIFIED) and by quayside alike", async () => {
    const { bytes } = signed("tampered");
    const tampered = Buffer.from(bytes.toString().replace('"architecture": "amd64"', '"architecture": "arm64"'));
    assert.notDeepEqual(tampered, bytes);
    assert.throws(() => verifySchema1Signatures(tampered), SignatureVerificationError);
    await assert.rejects(client.putManifest(REPOSITORY, "tampered", tampered, { mediaType: MediaType.DockerManifestV1Signed }), (err: unknown) => {
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.code, "MANIFEST_UNVERIFIED");
      return true;
    });
  });

  test("a schema 2 image has nothing to verify", async () => {
    const seeded = env.anonymous.seeded.docker;
    assert.equal(await verifyManifestSignatures(`${env.anonymous.host}/${seeded.repository}:${seeded.tag}`, options), null);
  });

  test("without compatibility.schema1 the registry refuses schema 1 pushes", async () => {
    const plain = new RegistryClient(env.anonymous.host, { dockerConfig: false, retry: { retries: 0 } });
    try {
      const layer = gzipSync(Buffer.from("refused schema 1 layer\n"));
      const digest = (await plain.pushBlob(REPOSITORY, layer)).descriptor.digest;
      const bytes = signSchema1(schema1Manifest(REPOSITORY, "refused", [digest]), [{ key: signer }]);
      await assert.rejects(plain.putManifest(REPOSITORY, "refused", bytes, { mediaType: MediaType.DockerManifestV1Signed }), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.status, 500);
        return true;
      });
    } finally {
      await plain.close();
    }
  });
});
