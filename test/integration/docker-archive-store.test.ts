/** docker-archive tarballs against real peers: skopeo 1.9.3 reads what quayside writes and vice versa. */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { copyImage } from "../../src/copy/copy.js";
import { digestOf } from "../../src/digest/digest.js";
import { QuaysideError } from "../../src/errors.js";
import { isImage, parseImageConfig, parseManifest, type ImageManifest } from "../../src/media/manifest.js";
import { MediaType, type Descriptor } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";
import { DOCKER_LAYER_TAR, DockerArchiveStore, parseArchiveLocation } from "../../src/store/docker-archive.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import { fetchBytes } from "../../src/store/store.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeo, skopeoCopy, skopeoInspectRaw } from "../harness/skopeo.js";

let env: TestEnvironment;
let dir: string;
let client: RegistryClient;
/** Pushes go to a registry of this file's own: the shared one's catalog is asserted elsewhere. */
let scratch: RunningRegistry;
let scratchClient: RegistryClient;

before(async () => {
  env = await getTestEnvironment();
  dir = await mkdtemp(join(tmpdir(), "quayside-archive-"));
  client = new RegistryClient(env.anonymous.host, { dockerConfig: false });
  scratch = await startRegistry({ mode: "anonymous" });
  scratchClient = new RegistryClient(scratch.host, { dockerConfig: false });
});
after(async () => {
  await client?.close();
  await scratchClient?.close();
  await scratch?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const anonymous = (): { registry: TestEnvironment["anonymous"]; creds: null } => ({ registry: env.anonymous, creds: null });

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<QuaysideError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof QuaysideError, `expected a QuaysideError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** The uncompressed digest (diffID) of a layer blob as stored. */
function diffIdOf(bytes: Uint8Array): string {
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  return sha256(gzipped ? gunzipSync(bytes) : bytes);
}

/** Copy one registry image into an archive being written, blob by blob, with the registry client. */
async function archiveFromRegistry(store: DockerArchiveStore, repository: string, reference: string, tag: string): Promise<ImageManifest> {
  const manifest = await client.getManifest(repository, reference);
  assert.ok(isImage(manifest));
  for (const blob of [manifest.config, ...manifest.layers]) {
    await store.push(blob, await client.getBlob(repository, blob.digest, { expectedSize: blob.size }));
  }
  const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength };
  await store.push(descriptor, manifest.bytes);
  await store.tag(descriptor, tag);
  return manifest;
}

interface SkopeoInspect {
  Digest: string;
  Layers: string[];
  Architecture: string;
  Os: string;
}

describe("parseArchiveLocation", () => {
  test("splits at the first ':' after the path, as skopeo does", () => {
    assert.deepEqual(parseArchiveLocation("docker-archive:/tmp/x.tar"), { path: "/tmp/x.tar" });
    assert.deepEqual(parseArchiveLocation("docker-archive:/tmp/x.tar:repo/name:v1"), { path: "/tmp/x.tar", reference: "repo/name:v1" });
    assert.deepEqual(parseArchiveLocation("docker-archive:x.tar:localhost:5000/a/b:2"), { path: "x.tar", reference: "localhost:5000/a/b:2" });
    assert.deepEqual(parseArchiveLocation("docker-archive:x.tar:busybox"), { path: "x.tar", reference: "busybox:latest" });
    assert.deepEqual(parseArchiveLocation("docker-archive:x.tar:@0"), { path: "x.tar", reference: "@0" });
    assert.deepEqual(parseArchiveLocation("x.tar:@12"), { path: "x.tar", reference: "@12" });
  });

  test("refuses what skopeo refuses", () => {
    for (const bad of ["docker-archive:", "docker-archive::a:b", "docker-archive:x.tar:", "docker-archive:x.tar:@-1", "docker-archive:x.tar:@a", "docker-archive:x.tar:Upper:1", `docker-archive:x.tar:a@sha256:${"0".repeat(64)}`]) {
      assert.throws(() => parseArchiveLocation(bad), (err: unknown) => err instanceof QuaysideError && err.code === "INVALID_REFERENCE", bad);
    }
  });
});

describe("docker-archive store", () => {
  test("quayside reads what skopeo wrote (uncompressed layers, symlinked legacy layout)", async () => {
    const file = join(dir, "skopeo-written.tar");
    const seeded = env.anonymous.seeded.docker;
    const original = seeded.manifests[0];
    assert.ok(original);
    await skopeoCopy(`docker://${env.anonymous.host}/test/docker:v1`, `docker-archive:${file}:test/docker:v1`, { src: anonymous() });

    const store = await DockerArchiveStore.open(file);
    assert.equal(store.location, `docker-archive:${file}`);
    assert.deepEqual(store.images().map((i) => i.repoTags), [["docker.io/test/docker:v1"]]);
    const root = await store.resolve("test/docker:v1");
    assert.equal(root.mediaType, MediaType.DockerManifestV2);
    // Every way of naming the only image gives the same synthesized manifest.
    for (const name of ["docker.io/test/docker:v1", "@0", "", root.digest]) assert.deepEqual(await store.resolve(name), root, name);
    await rejectsWithCode(store.resolve("test/docker:v2"), "MANIFEST_UNKNOWN");
    await rejectsWithCode(store.resolve("@1"), "MANIFEST_UNKNOWN");

    const manifestBytes = await fetchBytes(store, root);
    assert.equal(digestOf(manifestBytes), root.digest);
    const manifest = parseManifest(manifestBytes, root.mediaType);
    assert.ok(isImage(manifest));
    const configBytes = await fetchBytes(store, manifest.config);
    assert.equal(manifest.config.digest, original.config.digest);
    const config = parseImageConfig(configBytes);
    const diffIds: string[] = [];
    for (const layer of manifest.layers) {
      assert.equal(layer.mediaType, DOCKER_LAYER_TAR, "skopeo stores layers uncompressed");
      const bytes = await fetchBytes(store, layer);
      assert.equal(sha256(bytes), layer.digest);
      diffIds.push(diffIdOf(bytes));
      assert.equal(await store.exists(layer), true);
    }
    assert.deepEqual(diffIds, config.rootfs?.diff_ids);
    assert.equal(await store.exists({ ...manifest.config, digest: digestOf("nope") }), false);

    // skopeo's own view of the archive agrees on config and layer digests (diffIDs here).
    const skopeoManifest = parseManifest(Buffer.from(await skopeo(["inspect", "--raw", `docker-archive:${file}`]), "utf8"), MediaType.DockerManifestV2);
    assert.ok(isImage(skopeoManifest));
    assert.equal(skopeoManifest.config.digest, manifest.config.digest);
    assert.deepEqual(skopeoManifest.layers.map((l) => l.digest), manifest.layers.map((l) => l.digest));

    // Deterministic: another open synthesizes the same bytes.
    assert.deepEqual(await (await DockerArchiveStore.open(file)).resolve("@0"), root);
  });

  test("skopeo reads what quayside wrote; layers stay as the registry's blobs", async (t) => {
    const file = join(dir, "quayside-written.tar");
    const original = env.anonymous.seeded.docker;
    const store = await DockerArchiveStore.create(file);
    assert.equal(store.location, `docker-archive:${file}`);
    const manifest = await archiveFromRegistry(store, "test/docker", "v1", "ocitest/archived:1");
    // Nothing at the path before close() commits.
    assert.equal((await readdir(dir)).includes("quayside-written.tar"), false);
    await store.close();
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes("quayside-written")), ["quayside-written.tar"]);
    const diffIds = parseImageConfig(await client.getBlobBytes("test/docker", manifest.config.digest)).rootfs?.diff_ids;

    // skopeo inspect: the image, its diffIDs as layers (skopeo decompresses to compute them).
    const inspected = JSON.parse(await skopeo(["inspect", `docker-archive:${file}`])) as SkopeoInspect;
    assert.deepEqual(inspected.Layers, diffIds);
    assert.equal(inspected.Os, "linux");
    assert.ok(JSON.parse(await skopeo(["inspect", `docker-archive:${file}:ocitest/archived:1`])));

    // skopeo copy into the registry works.
    await skopeoCopy(`docker-archive:${file}`, `docker://${scratch.host}/archive/roundtrip:1`, { dest: { registry: scratch, creds: null } });
    const pushed = await skopeoInspectRaw(scratch, "archive/roundtrip:1", null);
    const pushedManifest = parseManifest(pushed.bytes, pushed.mediaType);
    assert.ok(isImage(pushedManifest));
    assert.equal(pushedManifest.config.digest, manifest.config.digest, "the config travels byte for byte");
    for (const [i, layer] of pushedManifest.layers.entries()) {
      assert.equal(diffIdOf(await scratchClient.getBlobBytes("archive/roundtrip", layer.digest)), diffIds?.[i], "same layer content");
    }
    const sameLayers = pushedManifest.layers.every((l, i) => l.digest === manifest.layers[i]?.digest);
    t.diagnostic(
      `skopeo docker-archive -> registry: manifest ${pushed.digest === original.digest ? "==" : "!="} original, layer digests ${sameLayers ? "==" : "!="} original ` +
        "(skopeo decompresses archive layers and recompresses them; equal digests only come from its blob-info cache reusing blobs it saw before)",
    );

    // quayside reads its archive back with the registry's exact digests, so archive -> registry with quayside keeps them all.
    const back = await DockerArchiveStore.open(file);
    const synthesized = await back.manifest("ocitest/archived:1");
    assert.deepEqual(synthesized.config.digest, manifest.config.digest);
    assert.deepEqual(synthesized.layers.map((l) => [l.digest, l.size, l.mediaType]), manifest.layers.map((l) => [l.digest, l.size, l.mediaType]));
    // test/docker was pushed by skopeo as compact Go JSON, the same shape synthesized here: even the manifest digest survives.
    assert.equal(synthesized.digest, original.digest);
    const result = await copyImage(back, "ocitest/archived:1", new RegistryStore(scratchClient, "archive/quayside-roundtrip"), "1");
    assert.equal(result.destination.digest, original.digest);
    assert.equal((await scratchClient.headManifest("archive/quayside-roundtrip", "1")).digest, original.digest);
  });

  test("a failed push leaves nothing: digest mismatch, index, incomplete image, abort mid-blob, existing file", async () => {
    const failDir = await mkdtemp(join(dir, "fail-"));
    const file = join(failDir, "broken.tar");
    const store = await DockerArchiveStore.create(file);
    const good = Buffer.from("a layer");
    await store.push({ mediaType: DOCKER_LAYER_TAR, digest: digestOf(good), size: good.length }, good);
    const claimed = Buffer.from("the real bytes");
    const wrong = Buffer.from("other bytes!!!");
    assert.equal(wrong.length, claimed.length);
    await rejectsWithCode(store.push({ mediaType: MediaType.DockerLayer, digest: digestOf(claimed), size: claimed.length }, Readable.from([wrong])), "DIGEST_MISMATCH");
    // The archive is unusable from then on; its temp file is already gone.
    await rejectsWithCode(store.push({ mediaType: DOCKER_LAYER_TAR, digest: digestOf(good), size: good.length }, good), "ARCHIVE_FAILED");
    await rejectsWithCode(store.close(), "ARCHIVE_FAILED");
    await store.abort();
    await store.abort(); // idempotent
    assert.deepEqual(await readdir(failDir), []);

    // An index is refused without harming the archive; an image whose blobs never came cannot be closed.
    const multi = await client.getManifest("test/multi", "v1");
    const second = await DockerArchiveStore.create(file);
    const indexDescriptor: Descriptor = { mediaType: multi.mediaType, digest: multi.digest, size: multi.bytes.byteLength };
    const refused = await rejectsWithCode(second.push(indexDescriptor, multi.bytes), "UNSUPPORTED_IN_ARCHIVE");
    assert.match(refused.message, /single-platform/);
    assert.match(refused.message, /platform/);
    const single = await client.getManifest("test/single", "v1");
    assert.ok(isImage(single));
    const singleDescriptor: Descriptor = { mediaType: single.mediaType, digest: single.digest, size: single.bytes.byteLength };
    await second.push(singleDescriptor, single.bytes);
    await rejectsWithCode(second.push({ ...singleDescriptor, digest: digestOf("x") }, single.bytes), "DIGEST_MISMATCH");
    await second.tag(singleDescriptor, "test/single:v1");
    await rejectsWithCode(second.close(), "INCOMPLETE_ARCHIVE");
    await second.abort();
    assert.deepEqual(await readdir(failDir), []);

    // abort() while a blob is still streaming in: the push fails, nothing remains.
    const third = await DockerArchiveStore.create(file);
    const slow = new PassThrough();
    const content = Buffer.alloc(256 * 1024, 1);
    const pending = third.push({ mediaType: DOCKER_LAYER_TAR, digest: digestOf(content), size: content.length }, slow);
    slow.write(content.subarray(0, 1024));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await third.abort();
    await assert.rejects(pending);
    assert.equal(slow.destroyed, true);
    assert.deepEqual(await readdir(failDir), []);

    // An existing file is never replaced (skopeo refuses to modify archives too), unless asked.
    await writeFile(file, "precious");
    await rejectsWithCode(DockerArchiveStore.create(file), "FILE_EXISTS");
    assert.deepEqual(await readdir(failDir), ["broken.tar"]);
  });

  test("two images in one archive, written with the copy engine: tags, @N, skopeo agrees", async () => {
    const file = join(dir, "two.tar");
    const store = await DockerArchiveStore.create(file);
    const first = await copyImage(new RegistryStore(client, "test/single"), "v1", store, "test/single:v1");
    const second = await copyImage(new RegistryStore(client, "test/docker"), "v1", store, "quay.io/org/docker:v1");
    assert.equal(await store.exists(first.destination), true);
    assert.equal(await store.exists(second.destination), true);
    assert.equal((await store.resolve("test/single:v1")).digest, first.destination.digest);
    assert.equal((await store.resolve("quay.io/org/docker:v1")).digest, second.destination.digest);
    // Copying again skips every blob already in the archive.
    const again = await copyImage(new RegistryStore(client, "test/docker"), "v1", store, "quay.io/org/docker:latest");
    assert.equal(again.blobs.copied, 0);
    await store.close();
    await store.close(); // idempotent once committed

    const archive = await DockerArchiveStore.open(file);
    assert.deepEqual(archive.images().map((i) => i.repoTags), [["test/single:v1"], ["quay.io/org/docker:v1", "quay.io/org/docker:latest"]]);
    const a = await archive.resolve("docker.io/test/single:v1");
    const b = await archive.resolve("quay.io/org/docker:v1");
    assert.notEqual(a.digest, b.digest);
    assert.deepEqual(await archive.resolve("@0"), a);
    assert.deepEqual(await archive.resolve("@1"), b);
    assert.deepEqual(await archive.resolve("quay.io/org/docker"), b, "no tag means :latest");
    await rejectsWithCode(archive.resolve(""), "MANIFEST_UNKNOWN");
    await rejectsWithCode(archive.resolve("@2"), "MANIFEST_UNKNOWN");

    // The OCI image comes back as Docker schema 2 with the same config and layer blobs.
    const single = env.anonymous.seeded.single.manifests[0];
    assert.ok(single);
    const synthesized = await archive.manifest("@0");
    assert.equal(synthesized.config.digest, single.config.digest);
    assert.deepEqual(synthesized.layers.map((l) => l.digest), single.layers.map((l) => l.digest));
    for (const blob of [synthesized.config, ...synthesized.layers]) assert.equal(sha256(await fetchBytes(archive, blob)), blob.digest);

    for (const ref of ["@1", "quay.io/org/docker:v1", "test/single:v1"]) {
      const inspected = JSON.parse(await skopeo(["inspect", `docker-archive:${file}:${ref}`])) as SkopeoInspect;
      assert.equal(inspected.Architecture, "amd64", ref);
    }
    // A read-only archive refuses writes.
    await rejectsWithCode(archive.push(a, Buffer.from("x")), "READ_ONLY");
  });

  test("reads hand-built archives: docker save's legacy layout with a symlinked duplicate layer, long names", async () => {
    const layer = Buffer.from("pretend this is a tar layer");
    const config = Buffer.from(JSON.stringify({ architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer), sha256(layer)] } }));
    const deep = `${"d".repeat(90)}/${"e".repeat(90)}/layer.tar`;
    const entries: [Parameters<tar.Pack["entry"]>[0], Buffer?][] = [
      [{ name: "aaa/layer.tar", size: layer.length }, layer],
      [{ name: "bbb/layer.tar", type: "symlink", linkname: "../aaa/layer.tar" }],
      [{ name: deep, size: layer.length }, layer],
      [{ name: "cfg.json", size: config.length }, config],
      [{ name: "manifest.json" }, Buffer.from(JSON.stringify([{ Config: "cfg.json", RepoTags: null, Layers: ["aaa/layer.tar", "./bbb/layer.tar"] }, { Config: "cfg.json", RepoTags: ["x:1"], Layers: [deep] }]))],
    ];
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (c: unknown) => void chunks.push(c as Buffer));
    const ended = new Promise<void>((resolve) => pack.on("end", () => resolve()));
    for (const [header, body] of entries) pack.entry(header, body ?? Buffer.alloc(0));
    pack.finalize();
    await ended;
    const file = join(dir, "legacy.tar");
    await writeFile(file, Buffer.concat(chunks));

    const archive = await DockerArchiveStore.open(file);
    const first = await archive.manifest("@0");
    assert.deepEqual(first.layers.map((l) => [l.digest, l.mediaType, l.size]), [
      [sha256(layer), DOCKER_LAYER_TAR, layer.length],
      [sha256(layer), DOCKER_LAYER_TAR, layer.length],
    ]);
    assert.equal((await archive.manifest("x:1")).layers[0]?.digest, sha256(layer));
    assert.deepEqual(await fetchBytes(archive, first.layers[1] as Descriptor), layer);
    // A wrong size in the descriptor asked for is caught on the way.
    await rejectsWithCode(fetchBytes(archive, { ...(first.layers[0] as Descriptor), size: layer.length + 1 }), "SIZE_MISMATCH");
    await rejectsWithCode(DockerArchiveStore.open(join(dir, "missing.tar")), "NOT_FOUND");
    await writeFile(join(dir, "not-an-archive.tar"), Buffer.alloc(1024, 7));
    await rejectsWithCode(DockerArchiveStore.open(join(dir, "not-an-archive.tar")), "INVALID_ARCHIVE");
  });
});
