/** The copy engine between registries: whole graphs, platform subsets, skips, mounts, check. */
import * as assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { checkImage } from "../../src/copy/check.js";
import { copyImage, type CopyEvent } from "../../src/copy/copy.js";
import { isIndex } from "../../src/media/manifest.js";
import { parsePlatform } from "../../src/ref/platform.js";
import { RegistryClient } from "../../src/registry/client.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startPagingProxy } from "../harness/pager.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeoDigest } from "../harness/skopeo.js";

let env: TestEnvironment;
let target: RunningRegistry;
let tokenTarget: RunningRegistry;
const clients: RegistryClient[] = [];

function clientOf(host: string, credentials?: { username: string; password: string }, tls?: { caFile: string }): RegistryClient {
  const c = new RegistryClient(host, { dockerConfig: false, ...(credentials ? { credentials: { kind: "basic", ...credentials } } : {}), ...(tls ? { tls } : {}) });
  clients.push(c);
  return c;
}

before(async () => {
  env = await getTestEnvironment();
  [target, tokenTarget] = await Promise.all([startRegistry({ mode: "anonymous" }), startRegistry({ mode: "token" })]);
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([target?.stop(), tokenTarget?.stop()]);
});

const adminOf = (r: RunningRegistry) => {
  const admin = r.tokenServer?.users.find((u) => u.role === "admin");
  assert.ok(admin);
  return { username: admin.username, password: admin.password };
};

describe("registry to registry", () => {
  test("a whole multi-arch index: same digest at the destination, skopeo agrees, second run skips everything", async () => {
    const src = new RegistryStore(clientOf(env.basic.host, env.basic, { caFile: env.basic.caFile }), "test/multi");
    const dst = new RegistryStore(clientOf(tokenTarget.host, adminOf(tokenTarget)), "mirror/multi");
    const events: CopyEvent[] = [];
    const result = await copyImage(src, "v1", dst, "v1", { onEvent: (e) => events.push(e) });
    const seeded = env.basic.seeded.multi;
    assert.equal(result.destination.digest, seeded.digest);
    assert.equal(result.indexRewritten, false);
    assert.deepEqual([...result.platforms].sort(), ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"]);
    const blobCount = new Set(seeded.manifests.flatMap((m) => [m.config.digest, ...m.layers.map((l) => l.digest)])).size;
    assert.equal(result.blobs.copied, blobCount);
    assert.equal(result.manifests.copied, seeded.manifests.length + 1);
    assert.equal(events.filter((e) => e.type === "blob-done").length, blobCount);
    assert.equal(await skopeoDigest({ host: tokenTarget.host, url: tokenTarget.url }, "mirror/multi:v1", adminOf(tokenTarget)), seeded.digest);

    const again = await copyImage(src, "v1", dst, "v1");
    assert.deepEqual(again.blobs, { copied: 0, skipped: blobCount, mounted: 0 });
    assert.equal(again.bytes, 0);
    const check = await checkImage(dst, "v1");
    assert.deepEqual(check.missing, []);
    assert.equal(check.blobs, blobCount);
  });

  test("one platform: the destination gets that image manifest; several: a new, consistent index", async () => {
    const src = new RegistryStore(clientOf(env.anonymous.host), "test/multi");
    const dst = new RegistryStore(clientOf(target.host), "subset/multi");
    const seeded = env.anonymous.seeded.multi;
    const arm = seeded.manifests.find((m) => m.platform.architecture === "arm");
    assert.ok(arm);
    const one = await copyImage(src, "v1", dst, "arm", { platforms: [parsePlatform("linux/arm/v7")] });
    assert.equal(one.destination.digest, arm.digest);
    assert.equal((await dst.resolve("arm")).digest, arm.digest);

    const two = await copyImage(src, "v1", dst, "two", { platforms: [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")] });
    assert.equal(two.indexRewritten, true);
    assert.notEqual(two.destination.digest, seeded.digest);
    const index = await dst.client.getManifest("subset/multi", "two");
    assert.ok(isIndex(index));
    assert.equal(index.digest, two.destination.digest);
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      seeded.manifests.filter((m) => m.platform.architecture !== "arm").map((m) => m.digest),
    );
    assert.deepEqual((await checkImage(dst, "two")).missing, []);
  });

  test("the source is asked once per item: one GET for the manifest (no HEAD first), one GET per blob", async () => {
    // A counting front of our own (the shared ones count other tests' requests too).
    const front = await startPagingProxy({ upstream: env.anonymous.url });
    try {
      const src = new RegistryStore(clientOf(front.host), "test/single");
      const dst = new RegistryStore(clientOf(target.host), `counted/single-${process.pid}`);
      const result = await copyImage(src, "v1", dst, "v1");
      const seeded = env.anonymous.seeded.single.manifests[0];
      assert.ok(seeded);
      const blobCount = 1 + seeded.layers.length;
      assert.equal(result.blobs.copied, blobCount);
      const seen = front.stats().requests.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, "DIGEST")}`);
      assert.deepEqual(seen.filter((r) => r.includes("/manifests/")), ["GET /v2/test/single/manifests/v1"]);
      assert.deepEqual(
        seen.filter((r) => r.includes("/blobs/")),
        Array.from({ length: blobCount }, () => "GET /v2/test/single/blobs/DIGEST"),
      );
      assert.equal(seen.length, 1 + blobCount, seen.join(", "));
    } finally {
      await front.close();
    }
  });

  test("within one registry blobs are mounted, not sent", async () => {
    const client = clientOf(env.token.host, env.token.users.admin);
    const src = new RegistryStore(client, "test/single");
    const dst = new RegistryStore(client, `mounted/single-${process.pid}`);
    const result = await copyImage(src, "v1", dst, "v1");
    const blobs = env.token.seeded.single.manifests[0];
    assert.ok(blobs);
    assert.equal(result.blobs.mounted, 1 + blobs.layers.length);
    assert.equal(result.bytes, 0);
    assert.equal((await dst.resolve("v1")).digest, env.token.seeded.single.digest);
  });

  test("an interrupted copy tags nothing; running it again finishes without re-sending what arrived", async () => {
    const src = new RegistryStore(clientOf(env.anonymous.host), "test/multi");
    const dst = new RegistryStore(clientOf(target.host), "interrupted/multi");
    const abort = new AbortController();
    let done = 0;
    await assert.rejects(
      copyImage(src, "v1", dst, "v1", {
        jobs: 1,
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === "blob-done" && ++done === 2) abort.abort(new Error("interrupted by the test"));
        },
      }),
    );
    await assert.rejects(dst.resolve("v1"), (err: unknown) => err instanceof Error && "category" in err && err.category === "not-found");
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    // With a caller's signal and many requests in flight, no MaxListenersExceededWarning.
    const resumed = await copyImage(src, "v1", dst, "v1", { signal: new AbortController().signal, jobs: 8 }).finally(() => process.off("warning", onWarning));
    assert.deepEqual(warnings, []);
    assert.ok(resumed.blobs.skipped >= 2, `only ${resumed.blobs.skipped} blobs were found already there`);
    assert.equal(resumed.destination.digest, env.anonymous.seeded.multi.digest);
    assert.deepEqual((await checkImage(dst, "v1")).missing, []);
  });

  test("writes over TLS with basic auth: copy in, retag, untag, delete", async () => {
    const client = clientOf(env.basic.host, env.basic, { caFile: env.basic.caFile });
    const repository = `written/multi-${process.pid}`;
    const dst = new RegistryStore(client, repository);
    const src = new RegistryStore(clientOf(env.anonymous.host), "test/multi");
    const result = await copyImage(src, "v1", dst, "a");
    assert.equal(result.destination.digest, env.anonymous.seeded.multi.digest);
    assert.equal(await skopeoDigest({ host: env.basic.host, url: env.basic.url, certDir: env.basic.certDir }, `${repository}:a`, env.basic), env.anonymous.seeded.multi.digest);
    const manifest = await client.getManifest(repository, "a");
    await client.putManifest(repository, "b", manifest.bytes);
    await client.untag(repository, "a");
    await assert.rejects(client.headManifest(repository, "a"), (err: unknown) => err instanceof Error && "category" in err && err.category === "not-found");
    assert.equal((await client.headManifest(repository, "b")).digest, manifest.digest);
    await client.deleteTag(repository, "b");
    await assert.rejects(client.getManifest(repository, manifest.digest), (err: unknown) => err instanceof Error && "category" in err && err.category === "not-found");
  });

  test("check reports missing blobs", async () => {
    const client = clientOf(target.host);
    const src = new RegistryStore(clientOf(env.anonymous.host), "test/single");
    const dst = new RegistryStore(client, "check/single");
    await copyImage(src, "v1", dst, "v1");
    const layer = env.anonymous.seeded.single.manifests[0]?.layers[0];
    assert.ok(layer);
    await client.deleteBlob("check/single", layer.digest);
    const check = await checkImage(dst, "v1");
    assert.deepEqual(check.missing.map((m) => m.digest), [layer.digest]);
  });
});
