/**
 * The copy engine between MemoryStores: what it plans, the order it writes in, what it skips and
 * mounts, how it fails, and what it refuses up front. Images are built in the test with digests
 * computed by node:crypto (test/harness/memory-images.ts).
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { copyImage, type CopyEvent } from "../../src/copy/copy.js";
import { planGraph } from "../../src/copy/graph.js";
import { DigestMismatchError, NetworkError, NotFoundError, SizeMismatchError, UnsupportedError } from "../../src/errors.js";
import { MemoryDomain, MemoryStore, type MemoryCall } from "../../src/store/memory.js";
import { AMD64, ARM64, ARMV7, content, digests, imageManifest, index, layer, multiArch, OCI_EMPTY, seed, sha256, type Content } from "../harness/memory-images.js";

const pushes = (calls: readonly MemoryCall[]): string[] => calls.filter((c) => c.op === "push").map((c) => c.digest as string);

async function fetchAll(store: MemoryStore, d: Content["descriptor"]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.fetch(d)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Fails the test if anything reaches process "uncaughtException" between start() and stop(). */
function watchUncaught(): { start(): void; stop(): unknown[] } {
  const seen: unknown[] = [];
  const listener = (err: unknown): void => void seen.push(err);
  return {
    start: () => process.on("uncaughtException", listener),
    stop: () => {
      process.off("uncaughtException", listener);
      return seen;
    },
  };
}

/** Lets stray stream errors and timers of a failed copy fire before the test looks. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

describe("copy engine: plan", () => {
  for (const format of ["oci", "docker"] as const) {
    it(`${format}: reads every manifest of an index once, children before the index, and lists every blob once without the non-distributable`, async () => {
      const image = multiArch({ format });
      const source = new MemoryStore();
      await seed(source, image, "v1");
      const plan = await planGraph(source, image.root.descriptor);
      const order = plan.manifests.map((m) => m.descriptor.digest);
      assert.deepEqual([...order].sort(), digests(image.manifests));
      assert.equal(order.length, 4);
      assert.equal(order.at(-1), sha256(image.root.bytes));
      assert.equal(plan.blobs.length, 7, "3 configs + 4 distinct layers, the shared one once");
      assert.deepEqual(digests(plan.blobs), digests(image.blobs));
      assert.ok(!plan.blobs.some((b) => b.digest === image.foreign.descriptor.digest));
      // Each manifest read from the source once, each blob never (planning reads manifests only).
      const fetched = source.calls.filter((c) => c.op === "fetch").map((c) => c.digest);
      assert.deepEqual([...fetched].sort(), digests(image.manifests));
    });
  }

  it("an index listing one manifest under two platforms (and a nested index holding it again): planned once, pushed once", async () => {
    const image = multiArch();
    const inner = index([{ manifest: image.arm64, platform: ARM64 }]);
    const root = index([
      { manifest: image.arm64, platform: ARM64 },
      { manifest: image.arm64, platform: { os: "linux", architecture: "arm64" } },
      { manifest: inner },
    ]);
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, { root, manifests: [image.arm64, inner, root], blobs: image.blobs }, "v1");
    const plan = await planGraph(source, root.descriptor);
    assert.deepEqual(plan.manifests.map((m) => m.descriptor.digest), [image.arm64, inner, root].map((m) => sha256(m.bytes)));
    // Read once each, however often the graph names them.
    const fetched = source.calls.filter((c) => c.op === "fetch").map((c) => c.digest);
    assert.equal(fetched.length, new Set(fetched).size, `a manifest read twice: ${fetched.join(", ")}`);
    const result = await copyImage(source, "v1", destination, "v1");
    assert.deepEqual(result.manifests, { copied: 3, skipped: 0 });
    assert.deepEqual(result.blobs, { copied: 3, skipped: 0, mounted: 0 });
    const pushed = pushes(destination.calls);
    assert.equal(pushed.length, new Set(pushed).size, "nothing pushed twice");
    assert.deepEqual([...pushed].sort(), digests([image.arm64, inner, root, image.configs[1], image.shared, image.arm64Only]));
  });

  it("copies the whole index with digests unchanged, pushing each blob and manifest exactly once", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    const result = await copyImage(source, "v1", destination, "v1");
    assert.equal(result.source.digest, sha256(image.root.bytes));
    assert.equal(result.destination.digest, sha256(image.root.bytes));
    assert.equal(result.indexRewritten, false);
    assert.deepEqual(result.blobs, { copied: 7, skipped: 0, mounted: 0 });
    assert.deepEqual(result.manifests, { copied: 4, skipped: 0 });
    assert.equal(result.bytes, image.blobs.reduce((sum, b) => sum + b.bytes.length, 0));
    assert.deepEqual(result.platforms.sort(), ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"]);
    const pushed = pushes(destination.calls);
    assert.equal(pushed.length, 11);
    assert.deepEqual([...pushed].sort(), digests([...image.blobs, ...image.manifests]));
    assert.deepEqual(await destination.resolve("v1"), { mediaType: image.root.descriptor.mediaType, digest: sha256(image.root.bytes), size: image.root.bytes.length });
    assert.deepEqual(await fetchAll(destination, image.shared.descriptor), image.shared.bytes);
  });

  it("two platforms of three: a new index of those entries in the source's order, other fields kept, a new digest; the third's blobs left behind", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    // Asked in the reverse of the index's order.
    const result = await copyImage(source, "v1", destination, "two", { platforms: [ARMV7, AMD64] });
    assert.equal(result.indexRewritten, true);
    const root = await destination.resolve("two");
    const bytes = await fetchAll(destination, root);
    assert.equal(root.digest, sha256(bytes));
    assert.equal(result.destination.digest, root.digest);
    assert.notEqual(root.digest, sha256(image.root.bytes));
    const written = JSON.parse(bytes.toString("utf8")) as { mediaType: string; manifests: { digest: string; platform: unknown }[]; annotations: unknown };
    assert.equal(written.mediaType, image.root.descriptor.mediaType);
    assert.deepEqual(
      written.manifests.map((m) => [m.digest, m.platform]),
      [
        [sha256(image.amd64.bytes), AMD64],
        [sha256(image.armv7.bytes), ARMV7],
      ],
    );
    assert.deepEqual(written.annotations, { "org.opencontainers.image.source": "https://example.com/app" });
    const pushed = new Set(pushes(destination.calls));
    assert.ok(!pushed.has(image.arm64Only.descriptor.digest), "the arm64-only layer stays behind");
    assert.ok(!pushed.has(image.arm64.descriptor.digest), "the arm64 manifest stays behind");
    assert.ok(pushed.has(image.shared.descriptor.digest), "the shared layer goes with amd64");
    assert.deepEqual(result.blobs, { copied: 5, skipped: 0, mounted: 0 });
    assert.deepEqual(result.manifests, { copied: 3, skipped: 0 });
  });

  it("one platform: the destination gets that image manifest alone, no index", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    const result = await copyImage(source, "v1", destination, "arm", { platforms: [ARM64] });
    assert.deepEqual(await destination.resolve("arm"), { mediaType: image.arm64.descriptor.mediaType, digest: sha256(image.arm64.bytes), size: image.arm64.bytes.length });
    assert.equal(result.indexRewritten, false);
    assert.deepEqual(pushes(destination.calls).sort(), digests([image.arm64, image.configs[1], image.shared, image.arm64Only]));
    assert.equal(await destination.exists(image.root.descriptor), false);
  });
});

describe("copy engine: order", () => {
  it("pushes every blob before any manifest, each image manifest before its index, and tags last", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    await copyImage(source, "v1", destination, "v1", { jobs: 3 });
    const writes = destination.calls.filter((c) => c.op === "push" || c.op === "tag");
    const blobDigests = new Set(digests(image.blobs));
    const position = (digest: string): number => writes.findIndex((c) => c.op === "push" && c.digest === digest);
    const lastBlob = Math.max(...[...blobDigests].map(position));
    const firstManifest = Math.min(...image.manifests.map((m) => position(m.descriptor.digest)));
    assert.ok(lastBlob < firstManifest, `a manifest was pushed before a blob: ${JSON.stringify(writes)}`);
    const indexAt = position(image.root.descriptor.digest);
    for (const child of [image.amd64, image.arm64, image.armv7]) assert.ok(position(child.descriptor.digest) < indexAt);
    assert.deepEqual(destination.calls.at(-1), { op: "tag", digest: sha256(image.root.bytes), tag: "v1" });
    assert.equal(destination.calls.filter((c) => c.op === "tag").length, 1);
  });
});

describe("copy engine: skip", () => {
  it("a second copy pushes nothing and counts everything skipped", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    await copyImage(source, "v1", destination, "v1");
    destination.calls.length = 0;
    source.calls.length = 0;
    const again = await copyImage(source, "v1", destination, "v1");
    assert.deepEqual(pushes(destination.calls), []);
    assert.deepEqual(again.blobs, { copied: 0, skipped: 7, mounted: 0 });
    assert.deepEqual(again.manifests, { copied: 0, skipped: 4 });
    assert.equal(again.bytes, 0);
    // No blob was read from the source either.
    const blobDigests = new Set(digests(image.blobs));
    assert.ok(!source.calls.some((c) => c.op === "fetch" && blobDigests.has(c.digest as string)));
  });

  it("a destination holding some blobs gets only the missing ones", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    const present = [image.shared, image.blobs[0] as Content];
    for (const blob of present) await destination.push(blob.descriptor, blob.bytes);
    destination.calls.length = 0;
    const result = await copyImage(source, "v1", destination, "v1");
    const missingBlobs = image.blobs.filter((b) => !present.includes(b));
    assert.deepEqual(pushes(destination.calls).sort(), digests([...missingBlobs, ...image.manifests]));
    assert.deepEqual(result.blobs, { copied: 5, skipped: 2, mounted: 0 });
    assert.equal(result.bytes, missingBlobs.reduce((sum, b) => sum + b.bytes.length, 0));
  });
});

describe("copy engine: mount", () => {
  it("between two stores of one domain, blobs are mounted and never read from the source", async () => {
    const domain = new MemoryDomain("registry.test");
    const image = multiArch();
    const source = new MemoryStore({ mount: { domain, name: "team/a" } });
    const destination = new MemoryStore({ mount: { domain, name: "team/b" } });
    await seed(source, image, "v1");
    const result = await copyImage(source, "v1", destination, "v1");
    assert.deepEqual(result.blobs, { copied: 0, skipped: 0, mounted: 7 });
    assert.equal(result.bytes, 0);
    const blobDigests = new Set(digests(image.blobs));
    assert.ok(!source.calls.some((c) => c.op === "fetch" && blobDigests.has(c.digest as string)), "a mounted blob is not streamed");
    assert.ok(!pushes(destination.calls).some((d) => blobDigests.has(d)));
    for (const blob of image.blobs) assert.deepEqual(await fetchAll(destination, blob.descriptor), blob.bytes);
  });

  it("into another domain, blobs are streamed", async () => {
    const image = multiArch();
    const source = new MemoryStore({ mount: { domain: new MemoryDomain("one.test"), name: "team/a" } });
    const destination = new MemoryStore({ mount: { domain: new MemoryDomain("two.test"), name: "team/b" } });
    await seed(source, image, "v1");
    const result = await copyImage(source, "v1", destination, "v1");
    assert.deepEqual(result.blobs, { copied: 7, skipped: 0, mounted: 0 });
    const blobDigests = digests(image.blobs);
    assert.deepEqual(source.calls.filter((c) => c.op === "fetch" && blobDigests.includes(c.digest as string)).map((c) => c.digest).sort(), blobDigests);
  });
});

describe("copy engine: mountFrom (a mirror's earlier images)", () => {
  it("blobs another store of the destination's registry holds are mounted from it, not read from the source", async () => {
    const image = multiArch();
    const source = new MemoryStore({ mount: { domain: new MemoryDomain("quay.test"), name: "org/app" } });
    const domain = new MemoryDomain("mirror.test");
    const earlier = new MemoryStore({ mount: { domain, name: "mirror/first" } });
    const destination = new MemoryStore({ mount: { domain, name: "mirror/second" } });
    await seed(source, image, "v1");
    await copyImage(source, "v1", earlier, "v1");
    source.calls.length = 0;
    const result = await copyImage(source, "v1", destination, "v1", { mountFrom: () => earlier });
    assert.deepEqual(result.blobs, { copied: 0, skipped: 0, mounted: 7 });
    const blobDigests = new Set(digests(image.blobs));
    assert.ok(!source.calls.some((c) => c.op === "fetch" && blobDigests.has(c.digest as string)), "a blob read from the source again");
    for (const blob of image.blobs) assert.deepEqual(await fetchAll(destination, blob.descriptor), blob.bytes);
  });

  it("a store offered that cannot mount the blob (not there, another registry) is only a missed shortcut: the blob is streamed", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const domain = new MemoryDomain("mirror.test");
    const empty = new MemoryStore({ mount: { domain, name: "mirror/empty" } });
    const elsewhere = new MemoryStore({ mount: { domain: new MemoryDomain("other.test"), name: "mirror/x" } });
    await seed(source, image, "v1");
    await copyImage(source, "v1", elsewhere, "v1");
    const destination = new MemoryStore({ mount: { domain, name: "mirror/dest" } });
    let offered = 0;
    const result = await copyImage(source, "v1", destination, "v1", { mountFrom: () => (offered++ % 2 === 0 ? empty : elsewhere) });
    assert.equal(offered, 7);
    assert.deepEqual(result.blobs, { copied: 7, skipped: 0, mounted: 0 });
    for (const blob of image.blobs) assert.deepEqual(await fetchAll(destination, blob.descriptor), blob.bytes);
  });
});

describe("copy engine: abort and failures", () => {
  let uncaught: ReturnType<typeof watchUncaught>;
  before(() => {
    uncaught = watchUncaught();
    uncaught.start();
  });
  after(() => {
    assert.deepEqual(uncaught.stop(), [], "no uncaught exception during these copies");
  });

  it("an AbortSignal aborted mid-blob rejects with an abort error, and no manifest is written nor tag", async () => {
    const image = multiArch({ layerSize: 64 * 1024 });
    const source = new MemoryStore({ chunkSize: 1024 });
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    const controller = new AbortController();
    const events: CopyEvent["type"][] = [];
    let moving: Content["descriptor"] | undefined;
    const copying = copyImage(source, "v1", destination, "v1", {
      jobs: 1,
      signal: controller.signal,
      onEvent: (event) => {
        events.push(event.type);
        if (event.type === "blob-progress" && event.bytes >= 4096 && moving === undefined) {
          moving = event.descriptor;
          controller.abort();
        }
      },
    });
    await assert.rejects(copying, (err: unknown) => err instanceof Error && err.name === "AbortError");
    await settle();
    assert.ok(events.includes("blob-progress"), "aborted while a blob was moving");
    assert.ok(!events.includes("manifest-done"));
    assert.deepEqual(pushes(destination.calls).filter((d) => image.manifests.some((m) => m.descriptor.digest === d)), []);
    assert.equal(destination.calls.some((c) => c.op === "tag"), false);
    await assert.rejects(destination.resolve("v1"), NotFoundError);
    // The blob being pushed when the signal fired was not stored.
    assert.ok(moving !== undefined);
    assert.equal(await destination.exists(moving), false);
  });

  const faults = [
    { fault: "truncated", error: SizeMismatchError, set: (s: MemoryStore) => s.faults.fetchTruncated },
    { fault: "flipped", error: DigestMismatchError, set: (s: MemoryStore) => s.faults.fetchCorrupted },
    { fault: "unreadable", error: NetworkError, set: (s: MemoryStore) => s.faults.fetchFails },
  ] as const;
  for (const { fault, error, set } of faults) {
    it(`a source blob that fails (${fault}) rejects with ${error.name}; the destination holds no manifest, no tag, not that blob`, async () => {
      const image = multiArch();
      const source = new MemoryStore({ chunkSize: 256 });
      const destination = new MemoryStore();
      await seed(source, image, "v1");
      set(source).add(image.arm64Only.descriptor.digest);
      await assert.rejects(copyImage(source, "v1", destination, "v1"), error);
      await settle();
      for (const manifest of image.manifests) assert.equal(await destination.exists(manifest.descriptor), false);
      assert.equal(destination.calls.some((c) => c.op === "tag"), false);
      assert.equal(await destination.exists(image.arm64Only.descriptor), false);
    });
  }

  it("a source blob that fails verification while the destination is still opening its upload: the typed error, no uncaught exception", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    // Like a registry, the destination reads content only once its upload is open.
    const destination = new MemoryStore({ openDelayMs: 30 });
    await seed(source, image, "v1");
    source.faults.fetchTruncated.add(image.arm64Only.descriptor.digest);
    await assert.rejects(copyImage(source, "v1", destination, "v1"), SizeMismatchError);
    await settle();
    for (const manifest of image.manifests) assert.equal(await destination.exists(manifest.descriptor), false);
    assert.equal(destination.calls.some((c) => c.op === "tag"), false);
  });

  it("a destination push that fails part-way rejects with its error and writes no manifest", async () => {
    const image = multiArch({ layerSize: 8 * 1024 });
    const source = new MemoryStore({ chunkSize: 1024 });
    const destination = new MemoryStore();
    await seed(source, image, "v1");
    destination.faults.pushFailsAfter.set(image.shared.descriptor.digest, 2048);
    await assert.rejects(copyImage(source, "v1", destination, "v1"), NetworkError);
    await settle();
    assert.equal(await destination.exists(image.shared.descriptor), false);
    for (const manifest of image.manifests) assert.equal(await destination.exists(manifest.descriptor), false);
    assert.equal(destination.calls.some((c) => c.op === "tag"), false);
  });
});

describe("copy engine: capabilities", () => {
  it("--referrers into a store without referrers: UnsupportedError before the destination is touched", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore({ capabilities: { referrers: false } });
    await seed(source, image, "v1");
    await assert.rejects(copyImage(source, "v1", destination, "v1", { referrers: true }), UnsupportedError);
    assert.deepEqual(destination.calls, []);
    assert.deepEqual(source.calls, []);
  });

  it("an index into a store without indexes: UnsupportedError before any push; one platform of it goes in", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    const destination = new MemoryStore({ capabilities: { indexes: false } });
    await seed(source, image, "v1");
    await assert.rejects(copyImage(source, "v1", destination, "v1"), UnsupportedError);
    await assert.rejects(copyImage(source, "v1", destination, "v1", { platforms: [AMD64, ARM64] }), UnsupportedError);
    assert.deepEqual(destination.calls, []);
    const result = await copyImage(source, "v1", destination, "v1", { platforms: [AMD64] });
    assert.equal(result.destination.digest, sha256(image.amd64.bytes));
    assert.equal((await destination.resolve("v1")).digest, sha256(image.amd64.bytes));
  });
});

describe("copy engine: referrers", () => {
  it("copies the referrers of the graph (and theirs) with their blobs, untagged; without the option, none", async () => {
    const image = multiArch();
    const source = new MemoryStore();
    await seed(source, image, "v1");
    const empty = content("{}", OCI_EMPTY);
    const sigBlob = layer("signature", 300, "application/vnd.example.signature.v1");
    const sbomBlob = layer("sbom", 700, "application/spdx+json");
    const signature = imageManifest({ config: empty, layers: [sigBlob], subject: image.amd64.descriptor, artifactType: "application/vnd.example.sig" });
    const sbom = imageManifest({ config: empty, layers: [sbomBlob], subject: image.root.descriptor, artifactType: "application/spdx+json" });
    // A signature of the SBOM: a referrer of a referrer.
    const sbomSigBlob = layer("sbom-sig", 64, "application/vnd.example.signature.v1");
    const sbomSignature = imageManifest({ config: empty, layers: [sbomSigBlob], subject: sbom.descriptor, artifactType: "application/vnd.example.sig" });
    for (const item of [empty, sigBlob, sbomBlob, sbomSigBlob, signature, sbom, sbomSignature]) await source.push(item.descriptor, item.bytes);

    const plain = new MemoryStore();
    const without = await copyImage(source, "v1", plain, "v1");
    assert.equal(without.referrers, 0);
    assert.equal(await plain.exists(signature.descriptor), false);

    const destination = new MemoryStore();
    const result = await copyImage(source, "v1", destination, "v1", { referrers: true });
    assert.equal(result.referrers, 3);
    assert.deepEqual(result.manifests, { copied: 7, skipped: 0 });
    assert.deepEqual((await destination.referrers(image.amd64.descriptor)).map((d) => d.digest), [sha256(signature.bytes)]);
    assert.deepEqual((await destination.referrers(image.root.descriptor)).map((d) => d.digest), [sha256(sbom.bytes)]);
    assert.deepEqual((await destination.referrers(sbom.descriptor)).map((d) => d.digest), [sha256(sbomSignature.bytes)]);
    for (const blob of [empty, sigBlob, sbomBlob, sbomSigBlob]) assert.deepEqual(await fetchAll(destination, blob.descriptor), blob.bytes);
    const tags: string[] = [];
    for await (const tag of destination.tags()) tags.push(tag);
    assert.deepEqual(tags, ["v1"]);
    assert.equal((await destination.resolve("v1")).digest, sha256(image.root.bytes));
    // Each referrer after its subject.
    const pushed = pushes(destination.calls);
    assert.ok(pushed.indexOf(signature.descriptor.digest) > pushed.indexOf(image.amd64.descriptor.digest));
    assert.ok(pushed.indexOf(sbomSignature.descriptor.digest) > pushed.indexOf(sbom.descriptor.digest));
  });
});
