/** MemoryStore on its own: what every Store promises (verify on push and fetch, tags, referrers), and its test hooks. */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { Readable } from "node:stream";
import { DigestMismatchError, InvalidReferenceError, NetworkError, NotFoundError, SizeMismatchError } from "../../src/errors.js";
import { MemoryDomain, MemoryStore } from "../../src/store/memory.js";
import { content, imageManifest, layer, OCI_EMPTY, seed, sha256, singleImage } from "../harness/memory-images.js";

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("MemoryStore", () => {
  it("stores verified content and serves it back byte for byte, as bytes or streamed in chunks", async () => {
    const store = new MemoryStore({ chunkSize: 100 });
    const blob = layer("a", 1000);
    const other = layer("b", 333);
    await store.push(blob.descriptor, blob.bytes);
    await store.push(other.descriptor, Readable.from([other.bytes.subarray(0, 10), other.bytes.subarray(10)]));
    assert.ok(await store.exists(blob.descriptor));
    assert.ok(await store.exists(other.descriptor));
    assert.deepEqual(await read(await store.fetch(blob.descriptor)), blob.bytes);
    assert.deepEqual(await read(await store.fetch(other.descriptor)), other.bytes);
    // Same digest, another size: not what was asked for.
    assert.equal(await store.exists({ ...blob.descriptor, size: 999 }), false);
  });

  it("stores nothing when pushed content does not match its descriptor, and says which check failed", async () => {
    const store = new MemoryStore();
    const blob = layer("a", 1000);
    const flipped = Buffer.from(blob.bytes);
    flipped[500] = (flipped[500] as number) ^ 1;
    await assert.rejects(store.push(blob.descriptor, flipped), DigestMismatchError);
    await assert.rejects(store.push(blob.descriptor, Readable.from([flipped])), DigestMismatchError);
    await assert.rejects(store.push(blob.descriptor, blob.bytes.subarray(1)), SizeMismatchError);
    await assert.rejects(store.push(blob.descriptor, Readable.from([blob.bytes.subarray(1)])), SizeMismatchError);
    assert.equal(await store.exists(blob.descriptor), false);
    await assert.rejects(store.fetch(blob.descriptor), (err: unknown) => err instanceof NotFoundError && err.code === "BLOB_UNKNOWN");
  });

  it("resolves tags and manifest digests, and says not found with NotFoundError", async () => {
    const store = new MemoryStore();
    const image = singleImage({ os: "linux", architecture: "amd64" }, ["l1"]);
    await seed(store, image, "v1");
    const expected = { mediaType: image.root.descriptor.mediaType, digest: sha256(image.root.bytes), size: image.root.bytes.length };
    assert.deepEqual(await store.resolve("v1"), expected);
    assert.deepEqual(await store.resolve(expected.digest), expected);
    await assert.rejects(store.resolve("v2"), NotFoundError);
    await assert.rejects(store.resolve(sha256(Buffer.from("nothing"))), NotFoundError);
    // A blob's digest names no manifest.
    await assert.rejects(store.resolve(image.blobs[0]!.descriptor.digest), NotFoundError);
    await assert.rejects(store.tag(image.blobs[0]!.descriptor, "v3"), NotFoundError);
    await assert.rejects(store.tag(image.root.descriptor, "bad tag"), InvalidReferenceError);
    await store.tag(image.root.descriptor, "v0");
    const tags: string[] = [];
    for await (const tag of store.tags()) tags.push(tag);
    assert.deepEqual(tags, ["v0", "v1"]);
  });

  it("lists the manifests pushed with a subject as referrers of that subject, only", async () => {
    const store = new MemoryStore();
    const image = singleImage({ os: "linux", architecture: "amd64" }, ["l1"]);
    await seed(store, image, "v1");
    const empty = content("{}", OCI_EMPTY);
    const signature = layer("sig", 64, "application/vnd.example.signature");
    const referrer = imageManifest({ config: empty, layers: [signature], subject: image.root.descriptor, artifactType: "application/vnd.example.sig", annotations: { a: "b" } });
    const unrelated = imageManifest({ config: empty, layers: [signature], subject: empty.descriptor });
    for (const item of [empty, signature, referrer, unrelated]) await store.push(item.descriptor, item.bytes);
    assert.deepEqual(await store.referrers(image.root.descriptor), [
      { mediaType: referrer.descriptor.mediaType, digest: sha256(referrer.bytes), size: referrer.bytes.length, artifactType: "application/vnd.example.sig", annotations: { a: "b" } },
    ]);
    assert.deepEqual(await store.referrers(signature.descriptor), []);
  });

  it("injects faults: a failing fetch, a truncated or flipped stream caught by verification, a push that fails after N bytes", async () => {
    const store = new MemoryStore({ chunkSize: 64 });
    const blobs = [layer("fail", 256), layer("short", 256), layer("flip", 256), layer("ok", 256)] as const;
    for (const blob of blobs) await store.push(blob.descriptor, blob.bytes);
    store.faults.fetchFails.add(blobs[0].descriptor.digest);
    store.faults.fetchTruncated.add(blobs[1].descriptor.digest);
    store.faults.fetchCorrupted.add(blobs[2].descriptor.digest);
    await assert.rejects(store.fetch(blobs[0].descriptor), NetworkError);
    await assert.rejects(read(await store.fetch(blobs[1].descriptor)), SizeMismatchError);
    await assert.rejects(read(await store.fetch(blobs[2].descriptor)), DigestMismatchError);
    assert.deepEqual(await read(await store.fetch(blobs[3].descriptor)), blobs[3].bytes);

    const target = new MemoryStore();
    const progress: number[] = [];
    target.faults.pushFailsAfter.set(blobs[3].descriptor.digest, 100);
    await assert.rejects(target.push(blobs[3].descriptor, await store.fetch(blobs[3].descriptor), { onProgress: (n) => progress.push(n) }), NetworkError);
    assert.equal(await target.exists(blobs[3].descriptor), false);
    assert.deepEqual(progress, [64]);
  });

  it("logs every call with its digest, in order", async () => {
    const store = new MemoryStore();
    const image = singleImage({ os: "linux", architecture: "amd64" }, ["l1"]);
    await seed(store, image);
    assert.deepEqual(store.calls, []);
    await store.exists(image.blobs[0]!.descriptor);
    await store.tag(image.root.descriptor, "t");
    await store.close();
    assert.deepEqual(store.calls, [{ op: "exists", digest: image.blobs[0]!.descriptor.digest }, { op: "tag", digest: image.root.descriptor.digest, tag: "t" }, { op: "close" }]);
    assert.equal(store.state, "closed");
  });

  it("mounts from a store of its own domain that holds the blob, never from another domain or a store without it", async () => {
    const registry = new MemoryDomain("mem");
    const a = new MemoryStore({ mount: { domain: registry, name: "a" } });
    const b = new MemoryStore({ mount: { domain: registry, name: "b" } });
    const elsewhere = new MemoryStore({ mount: { domain: new MemoryDomain("mem"), name: "a" } });
    const blob = layer("x", 500);
    const missing = layer("y", 500);
    await a.push(blob.descriptor, blob.bytes);
    await elsewhere.push(missing.descriptor, missing.bytes);
    assert.deepEqual(b.capabilities.mount, { domain: "mem", name: "b" });
    assert.equal(await b.mount(missing.descriptor, a), false);
    // Same domain and store names, another domain: b's "a" holds the blob, this one does not.
    assert.equal(await b.mount(blob.descriptor, elsewhere), false);
    assert.equal(await b.mount(missing.descriptor, elsewhere), false);
    assert.equal(await b.exists(missing.descriptor), false);
    assert.equal(await b.exists(blob.descriptor), false);
    assert.equal(await b.mount(blob.descriptor, a), true);
    assert.deepEqual(await read(await b.fetch(blob.descriptor)), blob.bytes);
    assert.equal(a.calls.some((c) => c.op === "fetch"), false);
    assert.throws(() => new MemoryStore({ mount: { domain: registry, name: "a" } }), TypeError);
    // A store that failed to construct takes no name.
    assert.throws(() => new MemoryStore({ chunkSize: 0, mount: { domain: registry, name: "c" } }), RangeError);
    assert.doesNotThrow(() => new MemoryStore({ mount: { domain: registry, name: "c" } }));
  });

  it("abort() fails a push still reading, which stores nothing", async () => {
    const store = new MemoryStore();
    const blob = layer("slow", 200);
    const source = new Readable({ read() {} });
    source.push(blob.bytes.subarray(0, 100));
    const pushing = store.push(blob.descriptor, source);
    await new Promise((resolve) => setImmediate(resolve));
    await store.abort();
    source.push(blob.bytes.subarray(100));
    source.push(null);
    await assert.rejects(pushing, (err: unknown) => err instanceof Error && err.name === "AbortError");
    assert.equal(await store.exists(blob.descriptor), false);
    assert.equal(store.state, "aborted");
  });
});
