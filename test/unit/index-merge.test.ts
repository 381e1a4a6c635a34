/**
 * pubtools-quay's ManifestListMerger, as quayside does it: the pure merge of two indexes
 * (platform keys with variants, order, entries kept byte for byte, media types) and the merge
 * between MemoryStores (children copied before the index, the tag moved last). Digests are
 * computed by node:crypto in test/harness/memory-images.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManifestTypeError, UnsupportedError } from "../../src/errors.js";
import { mergeIndexes, platformKey } from "../../src/media/index-merge.js";
import { parseManifest, type IndexManifest } from "../../src/media/manifest.js";
import { mergeInStores } from "../../src/ops/merge.js";
import { MemoryStore, type MemoryCall } from "../../src/store/memory.js";
import { AMD64, ARM64, ARMV7, content, index, seed, sha256, singleImage, type BuiltImage, type Content, type TestPlatform } from "../harness/memory-images.js";

const S390X: TestPlatform = { os: "linux", architecture: "s390x" };
const ARMV6: TestPlatform = { os: "linux", architecture: "arm", variant: "v6" };

const asIndex = (c: Content): IndexManifest => parseManifest(c.bytes, c.descriptor.mediaType) as IndexManifest;

/** An index over images built from seeds (one image per platform); the images come with it, to seed a store. */
function list(name: string, platforms: readonly TestPlatform[], format: "oci" | "docker" = "oci"): { root: Content; images: BuiltImage[]; built: BuiltImage } {
  const images = platforms.map((p) => singleImage(p, [`${name} ${p.architecture} ${p.variant ?? ""}`], format));
  const root = index(
    images.map((image, i) => ({ manifest: image.root, platform: platforms[i] as TestPlatform })),
    { format, annotations: { "org.example.name": name } },
  );
  return { root, images, built: { root, manifests: [...images.flatMap((i) => i.manifests), root], blobs: images.flatMap((i) => i.blobs) } };
}

const entriesOf = (bytes: Uint8Array): unknown[] => (JSON.parse(Buffer.from(bytes).toString("utf8")) as { manifests: unknown[] }).manifests;

describe("platformKey", () => {
  it("normalizes as containerd does: arm64 = arm64/v8 = aarch64, arm = arm/v7, but arm/v6 is not arm/v7", () => {
    assert.equal(platformKey({ os: "linux", architecture: "arm64" }), platformKey({ os: "linux", architecture: "arm64", variant: "v8" }));
    assert.equal(platformKey({ os: "linux", architecture: "aarch64" }), platformKey({ os: "linux", architecture: "arm64" }));
    assert.equal(platformKey({ os: "linux", architecture: "arm" }), platformKey(ARMV7));
    assert.notEqual(platformKey(ARMV6), platformKey(ARMV7));
    assert.notEqual(platformKey({ os: "windows", architecture: "amd64" }), platformKey(AMD64));
    assert.notEqual(
      platformKey({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" }),
      platformKey({ os: "windows", architecture: "amd64", "os.version": "10.0.20348.1" }),
    );
    assert.equal(platformKey(undefined), "");
  });

  it('"architecture" compares the architecture as written, as pubtools does (one OS assumed)', () => {
    assert.equal(platformKey(ARMV6, "architecture"), platformKey(ARMV7, "architecture"));
    assert.equal(platformKey({ os: "windows", architecture: "amd64" }, "architecture"), platformKey(AMD64, "architecture"));
    assert.notEqual(platformKey({ os: "linux", architecture: "aarch64" }, "architecture"), platformKey(ARM64, "architecture"));
  });
});

describe("mergeIndexes", () => {
  it("source entries first, in order, then the destination's for platforms the source lacks; the rest replaced", () => {
    const src = list("src", [ARM64, AMD64]);
    const dst = list("dst", [S390X, AMD64, ARMV7]);
    const merged = mergeIndexes(asIndex(src.root), asIndex(dst.root));
    const [srcArm64, srcAmd64] = src.images;
    const [dstS390x, dstAmd64, dstArmv7] = dst.images;
    assert.ok(srcArm64 && srcAmd64 && dstS390x && dstAmd64 && dstArmv7);
    assert.deepEqual(
      merged.fromSource.map((d) => d.digest),
      [srcArm64.root.descriptor.digest, srcAmd64.root.descriptor.digest],
    );
    assert.deepEqual(
      merged.fromDestination.map((d) => d.digest),
      [dstS390x.root.descriptor.digest, dstArmv7.root.descriptor.digest],
    );
    assert.deepEqual(merged.replaced.map((d) => d.digest), [dstAmd64.root.descriptor.digest]);
    // The bytes: the source's fields (annotations, media type) and its entries, then the kept ones as written.
    const root = JSON.parse(Buffer.from(merged.bytes).toString("utf8")) as { mediaType: string; annotations: Record<string, string>; manifests: unknown[] };
    assert.equal(root.mediaType, src.root.descriptor.mediaType);
    assert.deepEqual(root.annotations, { "org.example.name": "src" });
    const dstEntries = entriesOf(dst.root.bytes);
    assert.deepEqual(root.manifests, [...entriesOf(src.root.bytes), dstEntries[0], dstEntries[2]]);
    assert.equal(merged.digest, sha256(merged.bytes));
    assert.equal(merged.mediaType, src.root.descriptor.mediaType);
  });

  it("a variant makes another platform: the destination's arm/v6 stays beside the source's arm/v7; arm64/v8 replaces arm64", () => {
    const src = list("src", [ARMV7, { os: "linux", architecture: "arm64" }]);
    const dst = list("dst", [ARMV6, ARM64]);
    const merged = mergeIndexes(asIndex(src.root), asIndex(dst.root));
    assert.deepEqual(merged.fromDestination.map((d) => d.platform), [ARMV6]);
    assert.deepEqual(merged.replaced.map((d) => d.platform), [ARM64]);
    // By architecture alone (pubtools), arm/v6 is "arm" like the source's arm/v7, and is dropped.
    const byArch = mergeIndexes(asIndex(src.root), asIndex(dst.root), { match: "architecture" });
    assert.deepEqual(byArch.fromDestination, []);
    assert.equal(byArch.replaced.length, 2);
  });

  it("nothing to keep, or no destination: the source's own bytes and digest", () => {
    const src = list("src", [AMD64, ARM64]);
    const dst = list("dst", [AMD64]);
    for (const merged of [mergeIndexes(asIndex(src.root), asIndex(dst.root)), mergeIndexes(asIndex(src.root), undefined)]) {
      assert.deepEqual(Buffer.from(merged.bytes), src.root.bytes);
      assert.equal(merged.digest, src.root.descriptor.digest);
    }
  });

  it("keeps the source's type: an OCI index takes Docker children; a Docker list refuses OCI ones", () => {
    const ociSrc = list("src", [AMD64]);
    const dockerDst = list("dst", [S390X], "docker");
    const merged = mergeIndexes(asIndex(ociSrc.root), asIndex(dockerDst.root));
    assert.equal(merged.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(merged.fromDestination.map((d) => d.mediaType), ["application/vnd.docker.distribution.manifest.v2+json"]);

    const dockerSrc = list("src", [AMD64], "docker");
    const dockerMerged = mergeIndexes(asIndex(dockerSrc.root), asIndex(dockerDst.root));
    assert.equal(dockerMerged.mediaType, "application/vnd.docker.distribution.manifest.list.v2+json");
    assert.equal(asIndex(content(dockerMerged.bytes, dockerMerged.mediaType)).manifests.length, 2);

    const ociDst = list("dst", [S390X]);
    assert.throws(() => mergeIndexes(asIndex(dockerSrc.root), asIndex(ociDst.root)), UnsupportedError);
  });

  it("entries without a platform match each other only", () => {
    const image = singleImage(AMD64, ["x"]);
    const other = singleImage(S390X, ["y"]);
    const src = index([{ manifest: image.root, platform: AMD64 }]);
    const dst = index([{ manifest: other.root }]);
    const merged = mergeIndexes(asIndex(src), asIndex(dst));
    assert.deepEqual(merged.fromDestination.map((d) => d.digest), [other.root.descriptor.digest]);
  });
});

describe("mergeInStores between MemoryStores", () => {
  const ops = (calls: readonly MemoryCall[]): string[] => calls.filter((c) => c.op === "push" || c.op === "tag").map((c) => `${c.op} ${c.digest ?? ""}`);

  it("copies the source's missing children first, then pushes the index, then moves the tag", async () => {
    const src = list("src", [AMD64, ARM64]);
    const dst = list("dst", [AMD64, S390X]);
    const from = new MemoryStore();
    const to = new MemoryStore();
    await seed(from, src.built, "v1");
    await seed(to, dst.built, "v1");
    const report = await mergeInStores({ store: from, name: "v1", display: "src" }, { store: to, name: "v1", tag: "v1", display: "dst" });
    const [srcAmd64, srcArm64] = src.images;
    const [, dstS390x] = dst.images;
    assert.ok(srcAmd64 && srcArm64 && dstS390x);
    assert.deepEqual(report.fromSource.map((e) => e.digest), [srcAmd64.root.descriptor.digest, srcArm64.root.descriptor.digest]);
    assert.deepEqual(report.fromDestination.map((e) => e.digest), [dstS390x.root.descriptor.digest]);
    assert.deepEqual(report.copied.map((e) => e.platform), ["linux/amd64", "linux/arm64/v8"]);
    // Blobs the destination lacked were sent; the rest (the amd64 configs are alike) found there.
    const dstBlobs = new Set(dst.built.blobs.map((b) => b.descriptor.digest));
    const srcBlobs = [...new Set(src.built.blobs.map((b) => b.descriptor.digest))];
    assert.equal(report.blobs.copied, srcBlobs.filter((d) => !dstBlobs.has(d)).length);
    assert.equal(report.blobs.copied + report.blobs.skipped, srcBlobs.length);
    assert.equal(report.previousDigest, dst.root.descriptor.digest);

    const pushed = ops(to.calls);
    const indexPush = pushed.indexOf(`push ${report.digest}`);
    assert.ok(indexPush > 0, pushed.join("\n"));
    for (const child of [srcAmd64, srcArm64]) assert.ok(pushed.indexOf(`push ${child.root.descriptor.digest}`) < indexPush);
    assert.equal(pushed.at(-1), `tag ${report.digest}`);
    const tagged = await to.resolve("v1");
    assert.equal(tagged.digest, report.digest);
    // The same merge again: nothing written.
    to.calls.length = 0;
    const again = await mergeInStores({ store: from, name: "v1", display: "src" }, { store: to, name: "v1", tag: "v1", display: "dst" });
    assert.equal(again.unchanged, true);
    assert.deepEqual(ops(to.calls), []);
    // The source's own entries, already in the destination, are not "replaced".
    assert.deepEqual(again.replaced, []);
  });

  it("no destination yet: the source's list, same digest; a single image at the destination: a ManifestTypeError", async () => {
    const src = list("src", [AMD64, ARM64]);
    const from = new MemoryStore();
    await seed(from, src.built, "v1");
    const to = new MemoryStore();
    const report = await mergeInStores({ store: from, name: "v1", display: "src" }, { store: to, name: "new", tag: "new", display: "dst" });
    assert.equal(report.digest, src.root.descriptor.digest);
    assert.equal(report.previousDigest, undefined);
    assert.equal((await to.resolve("new")).digest, src.root.descriptor.digest);

    const single = singleImage(S390X, ["lonely"]);
    await seed(to, single, "single");
    await assert.rejects(mergeInStores({ store: from, name: "v1", display: "src" }, { store: to, name: "single", tag: "single", display: "dst" }), (err: unknown) => {
      assert.ok(err instanceof ManifestTypeError);
      assert.equal(err.code, "MANIFEST_TYPE_MISMATCH");
      assert.deepEqual(err.actual, [single.root.descriptor.mediaType]);
      return true;
    });
    assert.equal((await to.resolve("single")).digest, single.root.descriptor.digest);
  });
});
