/** checkImage on a MemoryStore: a complete image, one with a blob gone, one with a manifest gone. */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { checkImage } from "../../src/copy/check.js";
import { NotFoundError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import { AMD64, ARM64, multiArch, seed, sha256 } from "../harness/memory-images.js";

describe("checkImage", () => {
  it("a complete index: nothing missing, every manifest and distinct blob counted", async () => {
    const image = multiArch();
    const store = new MemoryStore();
    await seed(store, image, "v1");
    const result = await checkImage(store, "v1");
    assert.deepEqual(result.missing, []);
    assert.equal(result.root.digest, sha256(image.root.bytes));
    assert.equal(result.manifests, 4);
    // 3 configs + 4 layers (the shared one once); the non-distributable layer is not expected here.
    assert.equal(result.blobs, 7);
  });

  it("one blob removed: exactly that one is listed missing", async () => {
    const image = multiArch();
    const store = new MemoryStore();
    await seed(store, image, "v1");
    assert.ok(store.delete(image.shared.descriptor.digest));
    const result = await checkImage(store, "v1");
    assert.deepEqual(
      result.missing.map((d) => [d.digest, d.size]),
      [[sha256(image.shared.bytes), image.shared.bytes.length]],
    );
  });

  it("with platforms, only their blobs count", async () => {
    const image = multiArch();
    const store = new MemoryStore();
    await seed(store, image, "v1");
    store.delete(image.arm64Only.descriptor.digest);
    const amd64 = await checkImage(store, "v1", { platforms: [AMD64] });
    assert.deepEqual(amd64.missing, []);
    assert.equal(amd64.root.digest, sha256(image.amd64.bytes));
    const arm64 = await checkImage(store, "v1", { platforms: [ARM64] });
    assert.deepEqual(
      arm64.missing.map((d) => d.digest),
      [sha256(image.arm64Only.bytes)],
    );
  });

  it("a manifest gone fails with NotFoundError (the graph cannot be read)", async () => {
    const image = multiArch();
    const store = new MemoryStore();
    await seed(store, image, "v1");
    store.delete(image.armv7.descriptor.digest);
    await assert.rejects(checkImage(store, "v1"), NotFoundError);
  });
});
