/** Registry writes against the real distribution registry: uploads, mounts, manifests, deletes, untag. */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createVerifyingStream, digestOf } from "../../src/digest/digest.js";
import { DigestMismatchError, QuaysideError } from "../../src/errors.js";
import { MediaType } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeoDigest } from "../harness/skopeo.js";
import { collect } from "./helpers.js";

let registry: RunningRegistry;
let noDeletes: RunningRegistry;
let token: RunningRegistry;
const clients: RegistryClient[] = [];

function client(target: RunningRegistry, user?: { username: string; password: string }, logger?: (line: string) => void): RegistryClient {
  const c = new RegistryClient(target.host, {
    dockerConfig: false,
    ...(user ? { credentials: { kind: "basic", ...user } } : {}),
    ...(logger ? { logger } : {}),
  });
  clients.push(c);
  return c;
}

before(async () => {
  [registry, noDeletes, token] = await Promise.all([
    startRegistry({ mode: "anonymous" }),
    startRegistry({ mode: "anonymous", deleteEnabled: false }),
    startRegistry({ mode: "token" }),
  ]);
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([registry, noDeletes, token].map((r) => r?.stop()));
});

async function rejectsWith(promise: Promise<unknown>, check: (err: QuaysideError) => void): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof QuaysideError, `expected a QuaysideError, got ${String(err)}`);
    check(err);
    return true;
  });
}

/** A small real image: config + one layer + manifest, pushed with the library. Returns the manifest bytes and digest. */
async function pushImage(c: RegistryClient, repository: string, tag: string, mediaType: string = MediaType.OciManifest): Promise<{ digest: string; bytes: Buffer }> {
  const layer = randomBytes(2048);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [digestOf(layer)] } }));
  const configType = mediaType === MediaType.OciManifest ? MediaType.OciConfig : MediaType.DockerConfig;
  const layerType = mediaType === MediaType.OciManifest ? MediaType.OciLayer : "application/vnd.docker.image.rootfs.diff.tar";
  await c.pushBlob(repository, config);
  await c.pushBlob(repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: configType, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: layerType, digest: digestOf(layer), size: layer.length }],
    }),
  );
  const put = await c.putManifest(repository, tag, manifest);
  assert.equal(put.digest, digestOf(manifest));
  return { digest: put.digest, bytes: manifest };
}

describe("blob uploads", () => {
  test("every upload mode stores exactly the bytes sent", async () => {
    const c = client(registry);
    const cases: Array<[string, () => Promise<{ digest: string }>, Buffer]> = [];
    const small = randomBytes(1000);
    const streamedKnown = randomBytes(300_000);
    const streamedUnknown = randomBytes(200_000);
    const chunked = randomBytes(250_000);
    cases.push(["bytes", async () => (await c.pushBlob("up/modes", small)).descriptor, small]);
    cases.push([
      "stream with known digest and size",
      async () => (await c.pushBlob("up/modes", Readable.from([streamedKnown.subarray(0, 1000), streamedKnown.subarray(1000)]), { digest: digestOf(streamedKnown), size: streamedKnown.length })).descriptor,
      streamedKnown,
    ]);
    cases.push(["stream, digest computed on the way", async () => (await c.pushBlob("up/modes", Readable.from([streamedUnknown]))).descriptor, streamedUnknown]);
    cases.push(["chunked PATCH", async () => (await c.pushBlob("up/modes", Readable.from([chunked]), { chunkSize: 64 * 1024 })).descriptor, chunked]);
    for (const [name, upload, bytes] of cases) {
      const descriptor = await upload();
      assert.equal(descriptor.digest, digestOf(bytes), name);
      const back = await c.getBlobBytes("up/modes", descriptor.digest);
      assert.ok(Buffer.from(back).equals(bytes), name);
    }
  });

  test("a stream still being opened: the upload session opens meanwhile; if the stream never comes, the session is cancelled", async () => {
    const lines: string[] = [];
    const c = client(registry, undefined, (l) => lines.push(l));
    const blob = randomBytes(150_000);
    let openStream!: (stream: Readable) => void;
    const pending = new Promise<Readable>((resolve) => (openStream = resolve));
    const upload = c.pushBlob("up/pending", pending, { digest: digestOf(blob), size: blob.length, skipExisting: false });
    // The POST goes out before the content exists.
    for (let i = 0; i < 200 && !lines.some((l) => / POST .*up\/pending\/blobs\/uploads\/ /.test(l) && l.includes("< 202")); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(lines.some((l) => l.includes("< 202 POST")), `no upload session opened before the content: ${lines.join(" | ")}`);
    openStream(Readable.from([blob]));
    const result = await upload;
    assert.equal(result.outcome, "uploaded");
    assert.ok(Buffer.from(await c.getBlobBytes("up/pending", digestOf(blob))).equals(blob));

    const failing = Promise.reject(new Error("the source could not be opened"));
    await assert.rejects(c.pushBlob("up/pending-fail", failing, { digest: digestOf(randomBytes(10)), size: 10, skipExisting: false }), /the source could not be opened/);
    // The session is gone as the API sees it (distribution leaves a hash-state file on disk after a cancel: not a session).
    const deleted = lines.find((l) => /^> DELETE .*up\/pending-fail\/blobs\/uploads\//.test(l));
    assert.ok(deleted, `no DELETE of the upload session: ${lines.join(" | ")}`);
    assert.ok(lines.some((l) => l.startsWith("< 204 DELETE")), "the registry did not accept the cancel");
    const sessionUrl = deleted.split(" ")[2] ?? "";
    assert.equal((await fetch(sessionUrl)).status, 404, `${sessionUrl} still answers after the cancel`);
  });

  test("an existing blob is skipped, a blob of another repository is mounted", async () => {
    const lines: string[] = [];
    const c = client(registry, undefined, (l) => lines.push(l));
    const blob = randomBytes(5000);
    assert.equal((await c.pushBlob("up/source", blob)).outcome, "uploaded");
    assert.equal((await c.pushBlob("up/source", blob)).outcome, "skipped");
    lines.length = 0;
    const mounted = await c.pushBlob("up/target", Readable.from([blob]), { digest: digestOf(blob), size: blob.length, mountFrom: "up/source" });
    assert.equal(mounted.outcome, "mounted");
    assert.equal(mounted.descriptor.size, blob.length);
    assert.ok(!lines.some((l) => / (PUT|PATCH) /.test(l)), "a mount sends no bytes");
    assert.ok(Buffer.from(await c.getBlobBytes("up/target", digestOf(blob))).equals(blob));
    assert.equal(await c.mountBlob("up/third", "up/source", digestOf(blob)), true);
    // Mounting from a repository that lacks the blob falls back to a real upload.
    const other = randomBytes(3000);
    const fallback = await c.pushBlob("up/target", other, { mountFrom: "up/nowhere" });
    assert.equal(fallback.outcome, "uploaded");
    assert.equal(await c.mountBlob("up/fourth", "up/nowhere", digestOf(randomBytes(10))), false);
  });

  test("bytes that do not match the digest are refused and nothing is stored", async () => {
    const c = client(registry);
    const blob = randomBytes(100_000);
    const wrong = digestOf(randomBytes(10));
    await rejectsWith(c.pushBlob("up/bad", Readable.from([blob]), { digest: wrong, size: blob.length }), (err) => assert.ok(err instanceof DigestMismatchError || err.category === "network" || err.category === "protocol", err.message));
    assert.equal(await c.blobExists("up/bad", wrong), false);
    assert.equal(await c.blobExists("up/bad", digestOf(blob)), false);
    await rejectsWith(c.pushBlob("up/bad", blob, { digest: wrong }), (err) => assert.ok(err instanceof DigestMismatchError));
    // A source that verifies itself (as a copy streams it) is not hashed twice, yet bad bytes still never land.
    const selfChecking = Readable.from([blob]).pipe(createVerifyingStream(wrong, { expectedSize: blob.length }));
    await rejectsWith(c.pushBlob("up/bad", selfChecking, { digest: wrong, size: blob.length }), (err) => assert.ok(err instanceof DigestMismatchError || err.category === "network", err.message));
    assert.equal(await c.blobExists("up/bad", wrong), false);
  });
});

describe("manifests", () => {
  test("a pushed image reads back identically with skopeo, by tag and by digest", async () => {
    const c = client(registry);
    for (const mediaType of [MediaType.OciManifest, MediaType.DockerManifestV2]) {
      const { digest, bytes } = await pushImage(c, "up/image", mediaType === MediaType.OciManifest ? "oci" : "docker", mediaType);
      assert.equal(await skopeoDigest({ host: registry.host, url: registry.url }, `up/image:${mediaType === MediaType.OciManifest ? "oci" : "docker"}`), digest);
      const back = await c.getManifest("up/image", digest);
      assert.ok(Buffer.from(back.bytes).equals(bytes));
      assert.equal(back.mediaType, mediaType);
    }
  });

  test("an OCI manifest without mediaType goes up with the OCI Content-Type, detected by shape", async () => {
    const c = client(registry);
    const { bytes } = await pushImage(c, "up/shape", "base");
    const withoutType = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    delete withoutType["mediaType"];
    const raw = Buffer.from(JSON.stringify(withoutType));
    const put = await c.putManifest("up/shape", "no-media-type", raw);
    assert.equal(put.mediaType, MediaType.OciManifest);
    const head = await c.headManifest("up/shape", "no-media-type");
    assert.equal(head.digest, digestOf(raw));
    assert.equal(head.mediaType, MediaType.OciManifest);
  });

  test("retag: the same bytes under a new tag, and in another repository", async () => {
    const c = client(registry);
    const { digest, bytes } = await pushImage(c, "up/retag", "v1");
    const manifest = await c.getManifest("up/retag", "v1");
    await c.putManifest("up/retag", "v2", manifest.bytes);
    assert.equal((await c.headManifest("up/retag", "v2")).digest, digest);
    for (const d of [...JSON.parse(bytes.toString()).layers, JSON.parse(bytes.toString()).config] as { digest: string }[]) {
      assert.equal(await c.mountBlob("up/retag-copy", "up/retag", d.digest), true);
    }
    await c.putManifest("up/retag-copy", "v1", manifest.bytes);
    assert.equal((await c.headManifest("up/retag-copy", "v1")).digest, digest);
  });
});

describe("referrers", () => {
  test("without a referrers API (distribution 2.8) pushing a manifest with a subject lists it in the fallback tag index, which referrers() reads and filters", async () => {
    const c = client(registry);
    const { digest, bytes } = await pushImage(c, "ref/app", "v1");
    assert.deepEqual(await c.referrers("ref/app", digest), []);
    const empty = Buffer.from("{}");
    await c.pushBlob("ref/app", empty);
    const emptyDescriptor = { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: empty.length };
    const subject = { mediaType: MediaType.OciManifest, digest, size: bytes.length };
    const artifactTypes = ["application/vnd.example.sbom", "application/vnd.example.signature"];
    const artifacts = artifactTypes.map((artifactType) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType, config: emptyDescriptor, layers: [emptyDescriptor], subject, annotations: { "org.example.kind": artifactType } })),
    );
    const pushed = [];
    for (const artifact of artifacts) pushed.push(await c.putManifest("ref/app", digestOf(artifact), artifact));
    // Pushed twice: listed once.
    await c.putManifest("ref/app", digestOf(artifacts[0] as Buffer), artifacts[0] as Buffer);
    // The index a client without the API keeps, tagged <alg>-<hex>, as OCI 1.1 describes it.
    const fallback = await c.getManifest("ref/app", digest.replace(":", "-"), { accept: [MediaType.OciIndex] });
    assert.equal(fallback.kind, "oci-index");
    const all = await c.referrers("ref/app", digest);
    assert.deepEqual(all.map((d) => d.digest), pushed.map((d) => d.digest));
    assert.deepEqual(all.map((d) => d.artifactType), artifactTypes);
    assert.deepEqual(all.map((d) => d.annotations?.["org.example.kind"]), artifactTypes);
    assert.deepEqual(all.map((d) => d.size), artifacts.map((a) => a.length));
    const sboms = await c.referrers("ref/app", digest, { artifactType: "application/vnd.example.sbom" });
    assert.deepEqual(sboms.map((d) => d.digest), [pushed[0]?.digest]);
  });
});

describe("deletes", () => {
  test("deleteTag removes the manifest and with it every tag on it", async () => {
    const c = client(registry);
    const { digest, bytes } = await pushImage(c, "del/all", "a");
    await c.putManifest("del/all", "b", bytes);
    const deleted = await c.deleteTag("del/all", "a");
    assert.equal(deleted.digest, digest);
    for (const tag of ["a", "b"]) await rejectsWith(c.headManifest("del/all", tag), (err) => assert.equal(err.category, "not-found"));
  });

  test("untag removes one tag and leaves the manifest and its other tags", async () => {
    const c = client(registry);
    const { digest, bytes } = await pushImage(c, "del/one", "keep");
    await c.putManifest("del/one", "drop", bytes);
    const result = await c.untag("del/one", "drop");
    assert.equal(result.digest, digest);
    // distribution 2.8 cannot delete a tag by name, so the placeholder route was taken.
    assert.equal(result.method, "placeholder");
    await rejectsWith(c.headManifest("del/one", "drop"), (err) => assert.equal(err.category, "not-found"));
    assert.equal((await c.headManifest("del/one", "keep")).digest, digest);
    assert.equal((await c.getManifest("del/one", digest)).digest, digest);
    assert.deepEqual(await collect(c.tags("del/one")), ["keep"]);
  });

  test("blob delete", async () => {
    const c = client(registry);
    const blob = randomBytes(100);
    await c.pushBlob("del/blob", blob);
    await c.deleteBlob("del/blob", digestOf(blob));
    assert.equal(await c.blobExists("del/blob", digestOf(blob)), false);
  });

  test("with deletes disabled the registry's UNSUPPORTED comes through, and nothing is lost", async () => {
    const c = client(noDeletes);
    const { digest, bytes } = await pushImage(c, "del/disabled", "a");
    await c.putManifest("del/disabled", "b", bytes);
    await rejectsWith(c.deleteManifest("del/disabled", digest), (err) => {
      assert.equal(err.code, "UNSUPPORTED");
      assert.match(err.message, /405/);
      assert.match(err.message, /deletes disabled/);
    });
    await rejectsWith(c.untag("del/disabled", "b"), (err) => assert.equal(err.code, "UNSUPPORTED"));
    // The refused untag put the tag back: both tags still name the original manifest.
    assert.equal((await c.headManifest("del/disabled", "a")).digest, digest);
    assert.equal((await c.headManifest("del/disabled", "b")).digest, digest);
  });
});

describe("token auth writes", () => {
  test("admin pushes, the read-only user is refused", async () => {
    const users = token.tokenServer?.users ?? [];
    const admin = users.find((u) => u.role === "admin");
    const reader = users.find((u) => u.role === "reader");
    assert.ok(admin && reader);
    const adminClient = client(token, admin);
    const { digest } = await pushImage(adminClient, "tok/app", "v1");
    assert.equal((await client(token, reader).headManifest("tok/app", "v1")).digest, digest);
    await rejectsWith(client(token, reader).pushBlob("tok/app", randomBytes(100)), (err) => assert.ok(["unauthorized", "denied"].includes(err.category), err.message));
    // A mount across repositories needs pull on the source too: the token covers both.
    const layerDigest = (JSON.parse(Buffer.from((await adminClient.getManifest("tok/app", "v1")).bytes).toString()) as { layers: { digest: string }[] }).layers[0]?.digest;
    assert.ok(layerDigest);
    assert.equal(await adminClient.mountBlob("tok/other", "tok/app", layerDigest), true);
    await adminClient.untag("tok/app", "v1");
    await rejectsWith(adminClient.headManifest("tok/app", "v1"), (err) => assert.equal(err.category, "not-found"));
  });
});
