/** The OCI image layout Store against real peers: layouts skopeo (and umoci, when installed) write and read. */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { digestOf } from "../../src/digest/digest.js";
import { DigestMismatchError, InvalidReferenceError, ManifestError, QuaysideError, SizeMismatchError } from "../../src/errors.js";
import { isImage, isIndex, parseManifest, referencedDescriptors } from "../../src/media/manifest.js";
import { MANIFEST_MEDIA_TYPES, MediaType, isManifestMediaType, type Descriptor } from "../../src/media/types.js";
import { InvalidLayoutError, OciLayoutStore, REF_NAME_ANNOTATION, parseOciLocation } from "../../src/store/oci-layout.js";
import { fetchBytes, type Store } from "../../src/store/store.js";
import { startRegistry } from "../harness/registry.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { run } from "../harness/exec.js";
import { skopeo, skopeoCopy, skopeoDigest } from "../harness/skopeo.js";

let env: TestEnvironment;
let tmp: string;

before(async () => {
  env = await getTestEnvironment();
  tmp = await mkdtemp(join(tmpdir(), "quayside-oci-store-"));
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const sha256 = (data: Uint8Array): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function rejectsWith(promise: Promise<unknown>, check: (err: QuaysideError) => void): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof QuaysideError, `expected a QuaysideError, got ${String(err)}`);
    check(err);
    return true;
  });
}

/** Reads a stream to its end; resolves with the byte count (the store's stream verifies on the way). */
async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

/** Every file under dir/blobs, relative, temporary files included. */
async function blobFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(dir, "blobs"), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1)).sort();
}

/** Copies a graph with the Store API only: blobs, then children, then the manifest itself. */
async function copyGraph(src: Store, dst: Store, descriptor: Descriptor): Promise<void> {
  if (!isManifestMediaType(descriptor.mediaType)) {
    if (!(await dst.exists(descriptor))) await dst.push(descriptor, await src.fetch(descriptor));
    return;
  }
  const bytes = await fetchBytes(src, descriptor);
  for (const child of referencedDescriptors(parseManifest(bytes, descriptor.mediaType))) await copyGraph(src, dst, child);
  await dst.push(descriptor, bytes);
}

function seedRoot(tag: string): Descriptor {
  const image = env.ociLayout.images.find((i) => i.tag === tag);
  assert.ok(image, `seed layout has no ${tag}`);
  return image.root;
}

async function skopeoRawDigest(location: string): Promise<string> {
  return sha256(Buffer.from(await skopeo(["inspect", "--raw", location]), "utf8"));
}

async function rawIndex(dir: string): Promise<{ manifests: (Descriptor & { annotations?: Record<string, string> })[] }> {
  return JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
}

/** A private, writable copy of the shared seed layout. */
async function seedCopy(name: string): Promise<string> {
  const dir = join(tmp, name);
  await cp(env.ociLayout.dir, dir, { recursive: true });
  return dir;
}

describe("quayside reads what skopeo wrote", () => {
  test("skopeo copy --all registry -> oci:DIR:multi; resolve, fetch and parse every manifest and blob", async () => {
    const dir = join(tmp, "from-skopeo");
    const seeded = env.anonymous.seeded.multi;
    await skopeoCopy(`docker://${env.anonymous.host}/test/multi:v1`, `oci:${dir}:multi`, { src: { registry: env.anonymous, creds: null }, all: true });

    const store = await OciLayoutStore.open(dir);
    assert.equal(store.location, `oci:${dir}`);
    assert.deepEqual(await store.list(), ["multi"]);
    const root = await store.resolve("multi");
    assert.deepEqual(root, { mediaType: MediaType.OciIndex, digest: seeded.digest, size: seeded.size });
    assert.equal((await store.resolve(seeded.digest)).digest, seeded.digest);

    const index = parseManifest(await fetchBytes(store, root));
    assert.ok(isIndex(index));
    assert.equal(index.digest, seeded.digest);
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), seeded.manifests.map((m) => m.digest).sort());
    for (const child of index.manifests) {
      const expected = seeded.manifests.find((m) => m.digest === child.digest);
      assert.ok(expected);
      const manifest = parseManifest(await fetchBytes(store, child));
      assert.ok(isImage(manifest));
      assert.equal(manifest.digest, child.digest);
      assert.equal(manifest.config.digest, expected.config.digest);
      assert.deepEqual(manifest.layers.map((l) => l.digest), expected.layers.map((l) => l.digest));
      // A child is not in index.json: resolve builds its descriptor from the blob.
      assert.deepEqual(await store.resolve(child.digest), { mediaType: MediaType.OciManifest, digest: child.digest, size: child.size });
      for (const blob of [manifest.config, ...manifest.layers]) {
        assert.equal(await store.exists(blob), true);
        assert.equal(await drain(await store.fetch(blob)), blob.size);
      }
    }
    await store.close();
  });
});

describe("skopeo reads what quayside wrote", () => {
  test("push single + multi (children first), tag; skopeo inspects the same digests and copies them to a registry", async (t) => {
    const source = await OciLayoutStore.open(env.ociLayout.dir);
    const dir = join(tmp, "nested", "by-quayside");
    const dest = await OciLayoutStore.open(dir, { create: true });
    assert.deepEqual(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    assert.deepEqual(await dest.list(), []);

    for (const name of ["single", "multi"]) {
      const root = await source.resolve(name);
      assert.equal(root.digest, seedRoot(name).digest);
      await copyGraph(source, dest, root);
      await dest.tag(root, name);
    }
    await dest.close();
    assert.deepEqual(await dest.list(), ["multi", "single"]);
    assert.ok((await blobFiles(dir)).every((f) => !f.includes(".partial")));
    const entries = (await rawIndex(dir)).manifests;
    assert.deepEqual(entries.map((e) => e.annotations?.[REF_NAME_ANNOTATION]), ["single", "multi"]);

    const multi = seedRoot("multi").digest;
    const single = seedRoot("single").digest;
    assert.equal(multi, env.anonymous.seeded.multi.digest);
    assert.equal(await skopeoRawDigest(`oci:${dir}:multi`), multi);
    assert.equal(await skopeoRawDigest(`oci:${dir}:single`), single);
    // Not --raw: skopeo also reads the config (and, for the index, picks a child).
    const inspected = JSON.parse(await skopeo(["inspect", `oci:${dir}:single`])) as { Digest: string; Architecture: string };
    assert.equal(inspected.Digest, single);
    assert.equal(inspected.Architecture, "amd64");

    // Into a registry of this test's own: the shared one's catalog is asserted elsewhere.
    const scratch = await startRegistry({ mode: "anonymous" });
    t.after(() => scratch.stop());
    await skopeoCopy(`oci:${dir}:multi`, `docker://${scratch.host}/ocitest/roundtrip:1`, { dest: { registry: scratch, creds: null }, all: true });
    assert.equal(await skopeoDigest(scratch, "ocitest/roundtrip:1"), multi);
    const head = await fetch(`${scratch.url}/v2/ocitest/roundtrip/manifests/1`, {
      method: "HEAD",
      headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("docker-content-digest"), multi);
  });
});

describe("integrity", () => {
  const layer = randomBytes(64 * 1024);
  const desc: Descriptor = { mediaType: MediaType.OciLayerGzip, digest: digestOf(layer), size: layer.length };

  test("wrong bytes, truncated, too long or failing content: typed error, nothing in blobs/, layout still valid", async () => {
    const dir = join(tmp, "integrity");
    const store = await OciLayoutStore.open(dir, { create: true });
    const flipped = Buffer.from(layer);
    flipped[1000] = (flipped[1000] ?? 0) ^ 1;

    await assert.rejects(store.push(desc, Readable.from([flipped])), DigestMismatchError);
    assert.deepEqual(await blobFiles(dir), []);
    await assert.rejects(store.push(desc, flipped), DigestMismatchError);
    assert.deepEqual(await blobFiles(dir), []);
    await assert.rejects(store.push(desc, Readable.from([layer.subarray(0, layer.length - 10)])), SizeMismatchError);
    assert.deepEqual(await blobFiles(dir), []);
    await assert.rejects(store.push(desc, Readable.from([layer, Buffer.from("x")])), SizeMismatchError);
    assert.deepEqual(await blobFiles(dir), []);
    const failing = Readable.from(
      (async function* () {
        yield layer.subarray(0, 1000);
        throw new Error("source went away");
      })(),
    );
    await assert.rejects(store.push(desc, failing), /source went away/);
    assert.deepEqual(await blobFiles(dir), []);
    // Failing on the very first chunk races the temporary file's open: repeat it, nothing may stay behind.
    const oversized = Buffer.concat([layer, layer]);
    for (let i = 0; i < 300; i++) await assert.rejects(store.push(desc, Readable.from([oversized])), SizeMismatchError);
    assert.deepEqual(await blobFiles(dir), []);
    // Not even a digest: refused before anything is written.
    await rejectsWith(store.push({ ...desc, digest: "sha256:../../etc" }, layer), (err) => assert.equal(err.code, "INVALID_DIGEST"));

    assert.equal(await store.exists(desc), false);
    await rejectsWith(store.fetch(desc), (err) => assert.equal(err.category, "not-found"));
    const reopened = await OciLayoutStore.open(dir);
    assert.deepEqual(await reopened.list(), []);
  });

  test("a streamed push lands whole, reports progress, and a second push skips without reading", async () => {
    const dir = join(tmp, "streamed");
    const store = await OciLayoutStore.open(dir, { create: true });
    const big = randomBytes(4 * 1024 * 1024);
    const bigDesc: Descriptor = { mediaType: MediaType.OciLayer, digest: digestOf(big), size: big.length };
    const chunks = Array.from({ length: 64 }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536));
    const progress: number[] = [];
    await store.push(bigDesc, Readable.from(chunks, { objectMode: false }), { onProgress: (n) => progress.push(n) });
    assert.equal(progress.at(-1), big.length);
    assert.equal(await store.exists(bigDesc), true);
    assert.deepEqual(await blobFiles(dir), [join("blobs", "sha256", bigDesc.digest.slice(7))]);
    assert.equal(await drain(await store.fetch(bigDesc)), big.length);

    let read = false;
    const untouched = new Readable({
      read() {
        read = true;
        this.destroy(new Error("must not be read"));
      },
    });
    await store.push(bigDesc, untouched);
    assert.equal(read, false);
    assert.equal(untouched.destroyed, true);
  });

  test("fetch verifies what is on disk: tampered bytes -> DigestMismatchError, wrong size -> SizeMismatchError", async () => {
    const dir = join(tmp, "tampered");
    const store = await OciLayoutStore.open(dir, { create: true });
    await store.push(desc, layer);
    const path = store.blobPath(desc.digest);
    const tampered = Buffer.from(layer);
    tampered[5] = (tampered[5] ?? 0) ^ 0xff;
    await writeFile(path, tampered);
    await assert.rejects(store.fetch(desc).then(drain), DigestMismatchError);
    await writeFile(path, layer.subarray(1));
    assert.equal(await store.exists(desc), false);
    await assert.rejects(store.fetch(desc), SizeMismatchError);
  });

  test("abort() stops a push in flight and leaves no temporary file", async () => {
    const dir = join(tmp, "aborted");
    const store = await OciLayoutStore.open(dir, { create: true });
    const endless = new PassThrough();
    endless.write(layer.subarray(0, 1024));
    const pushing = store.push(desc, endless);
    const outcome = pushing.then(
      () => "resolved",
      (err: unknown) => err,
    );
    // Wait until the temporary file exists, so abort() has something to clean up.
    for (let i = 0; i < 200 && (await blobFiles(dir)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match((await blobFiles(dir))[0] ?? "", /\/\.[0-9a-f]{64}\.[0-9a-f]{12}\.partial$/);
    await store.abort();
    assert.notEqual(await outcome, "resolved");
    assert.deepEqual(await blobFiles(dir), []);
    assert.equal(endless.destroyed, true);
  });
});

describe("tags and lookups", () => {
  test("tag replacement keeps one entry per name and leaves the others untouched; skopeo agrees", async () => {
    const dir = await seedCopy("replace");
    const before = await rawIndex(dir);
    const store = await OciLayoutStore.open(dir);
    const single = await store.resolve("single");
    const multi = await store.resolve("multi");
    assert.deepEqual(single, seedRoot("single"));

    await store.tag(single, "moving");
    assert.equal((await store.resolve("moving")).digest, single.digest);
    await store.tag(multi, "moving");
    assert.deepEqual(await store.resolve("moving"), multi);
    const after = await rawIndex(dir);
    assert.equal(after.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === "moving").length, 1);
    assert.deepEqual(after.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== "moving"), before.manifests);
    assert.equal(await skopeoRawDigest(`oci:${dir}:moving`), multi.digest);

    // Re-tagging an existing name in place: single now names the index, still one entry, same position.
    await store.tag(multi, "single");
    const names = (await rawIndex(dir)).manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]);
    assert.deepEqual(names, [...before.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]), "moving"]);
    assert.equal((await store.resolve("single")).digest, multi.digest);
  });

  test("10 concurrent tag() calls (two store instances) all land", async () => {
    const dir = await seedCopy("concurrent");
    const [a, b] = await Promise.all([OciLayoutStore.open(dir), OciLayoutStore.open(dir)]);
    const single = await a.resolve("single");
    const multi = await a.resolve("multi");
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    await Promise.all(names.map((name, i) => (i % 2 === 0 ? a : b).tag(i % 3 === 0 ? multi : single, name)));
    const listed = await a.list();
    for (const name of names) assert.ok(listed.includes(name), `${name} missing from ${listed.join(",")}`);
    for (const [i, name] of names.entries()) assert.equal((await b.resolve(name)).digest, (i % 3 === 0 ? multi : single).digest);
    assert.equal(await skopeoRawDigest(`oci:${dir}:c9`), multi.digest);
  });

  test("resolve by digest, unknown names and digests, invalid tags, tagging absent manifests", async () => {
    const dir = await seedCopy("lookups");
    const store = await OciLayoutStore.open(dir);
    const multiImage = env.ociLayout.images.find((i) => i.tag === "multi");
    assert.ok(multiImage);
    const child = multiImage.manifests[0];
    assert.ok(child);
    assert.deepEqual(await store.resolve(child.manifest.digest), child.manifest);
    assert.deepEqual(await store.resolve(multiImage.root.digest), multiImage.root);
    await assert.rejects(store.resolve(child.config.digest), ManifestError);

    await rejectsWith(store.resolve("nope"), (err) => {
      assert.equal(err.category, "not-found");
      assert.equal(err.code, "NOT_FOUND");
      assert.match(err.message, /"nope"/);
      assert.ok(err.message.includes(`oci:${dir}`), err.message);
    });
    await rejectsWith(store.resolve(digestOf("absent")), (err) => assert.equal(err.category, "not-found"));
    await assert.rejects(store.tag(multiImage.root, "not a tag"), InvalidReferenceError);
    await assert.rejects(store.tag(multiImage.root, "-dash"), InvalidReferenceError);
    await rejectsWith(store.tag({ mediaType: MediaType.OciManifest, digest: digestOf("absent"), size: 6 }, "ghost"), (err) => assert.equal(err.category, "not-found"));
    // Names beyond Docker tags that the ref.name grammar allows.
    await store.tag(multiImage.root, "example.com/app:v1.2");
    assert.equal((await store.resolve("example.com/app:v1.2")).digest, multiImage.root.digest);
  });

  test("two entries with one name: the first wins, as skopeo reads it", async () => {
    const dir = await seedCopy("duplicates");
    const index = await rawIndex(dir);
    const single = seedRoot("single");
    const multi = seedRoot("multi");
    index.manifests.push({ ...single, annotations: { [REF_NAME_ANNOTATION]: "dup" } }, { ...multi, annotations: { [REF_NAME_ANNOTATION]: "dup" } });
    await writeFile(join(dir, "index.json"), JSON.stringify(index));
    const store = await OciLayoutStore.open(dir);
    assert.equal((await store.resolve("dup")).digest, single.digest);
    assert.equal(await skopeoRawDigest(`oci:${dir}:dup`), single.digest);
    await store.tag(multi, "dup");
    assert.equal((await rawIndex(dir)).manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === "dup").length, 1);
    assert.equal(await skopeoRawDigest(`oci:${dir}:dup`), multi.digest);
  });

  test("missing or garbled layouts fail with clear typed errors", async () => {
    const base = join(tmp, "broken");
    await rejectsWith(OciLayoutStore.open(join(base, "nowhere")), (err) => {
      assert.equal(err.category, "not-found");
      assert.match(err.message, /no such directory/);
    });
    await mkdir(join(base, "empty"), { recursive: true });
    await rejectsWith(OciLayoutStore.open(join(base, "empty")), (err) => assert.match(err.message, /no oci-layout file/));

    const dir = join(base, "layout");
    const store = await OciLayoutStore.open(dir, { create: true });
    const expectInvalid = async (pattern: RegExp): Promise<void> => {
      await assert.rejects(OciLayoutStore.open(dir), (err: unknown) => {
        assert.ok(err instanceof InvalidLayoutError, String(err));
        assert.equal(err.code, "INVALID_LAYOUT");
        assert.match(err.message, pattern);
        assert.ok(err.message.startsWith(`oci:${dir}:`), err.message);
        return true;
      });
    };
    await writeFile(join(dir, "index.json"), "{garbled");
    await expectInvalid(/index\.json is not a valid OCI image index: .*not valid JSON/);
    await assert.rejects(store.resolve("x"), InvalidLayoutError);
    await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest: "sha256:nope", size: 1 }] }));
    await expectInvalid(/manifests\[0\]\.digest/);
    await rm(join(dir, "index.json"));
    await expectInvalid(/index\.json is missing/);
    // create repairs a missing index.json but never overwrites an existing one.
    await OciLayoutStore.open(dir, { create: true });
    assert.deepEqual((await rawIndex(dir)).manifests, []);
    await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "2.0.0" }));
    await expectInvalid(/unsupported imageLayoutVersion "2\.0\.0"/);
  });
});

describe("parseOciLocation", () => {
  const digest = digestOf("x");
  const cases: [string, { path: string; reference?: string }][] = [
    ["oci:/tmp/layout", { path: "/tmp/layout" }],
    ["oci:/tmp/layout:latest", { path: "/tmp/layout", reference: "latest" }],
    ["oci:relative/dir:v1.2_3-rc", { path: "relative/dir", reference: "v1.2_3-rc" }],
    ["oci:/tmp/layout:", { path: "/tmp/layout" }],
    [`oci:/tmp/layout@${digest}`, { path: "/tmp/layout", reference: digest }],
    [`oci:/tmp/layout:${digest}`, { path: "/tmp/layout", reference: digest }],
    ["oci:/tmp/a:b:latest", { path: "/tmp/a:b", reference: "latest" }],
    ["oci:/tmp/a:b/", { path: "/tmp/a:b/" }],
    ["oci:/tmp/a:b/:v1", { path: "/tmp/a:b/", reference: "v1" }],
    ["oci:/tmp/x@y/layout:v1", { path: "/tmp/x@y/layout", reference: "v1" }],
    [`oci:/tmp/a:b@${digest}`, { path: "/tmp/a:b", reference: digest }],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.deepEqual(parseOciLocation(input), expected));
  }
  test("refuses what is not an oci: location or names a broken digest", () => {
    assert.throws(() => parseOciLocation("docker://x/y"), InvalidReferenceError);
    assert.throws(() => parseOciLocation("oci:"), InvalidReferenceError);
    assert.throws(() => parseOciLocation("oci::tag"), InvalidReferenceError);
    assert.throws(() => parseOciLocation("oci:/tmp/l@sha256:abc"), (err: unknown) => err instanceof InvalidReferenceError && err.part === "digest");
  });
});

// umoci is installed by .ci/run and scripts/run-tests.mjs: a missing umoci fails here, it is never skipped.
describe("umoci", () => {
  test("umoci unpacks what quayside wrote, and quayside reads a tag umoci added", async () => {
    const source = await OciLayoutStore.open(env.ociLayout.dir);
    const dir = join(tmp, "for-umoci");
    const dest = await OciLayoutStore.open(dir, { create: true });
    const root = await source.resolve("single");
    await copyGraph(source, dest, root);
    await dest.tag(root, "single");

    const bundle = join(tmp, "umoci-bundle");
    await run("umoci", ["unpack", "--rootless", "--image", `${dir}:single`, bundle], { timeoutMs: 30_000 });
    assert.equal(await readFile(join(bundle, "rootfs", "quayside", "layer1.txt"), "utf8"), "single linux/amd64 layer 1\n");

    await run("umoci", ["tag", "--image", `${dir}:single`, "from-umoci"], { timeoutMs: 30_000 });
    assert.equal((await dest.resolve("from-umoci")).digest, root.digest);
    assert.deepEqual(await dest.list(), ["from-umoci", "single"]);
    const listed = (await run("umoci", ["ls", "--layout", dir], { timeoutMs: 30_000 })).stdout.split("\n").filter(Boolean).sort();
    assert.deepEqual(listed, ["from-umoci", "single"]);
  });
});
