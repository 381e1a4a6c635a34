/** The copy engine between registries: whole graphs, platform subsets, skips, mounts, check. */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkImage } from "../../src/copy/check.js";
import { copyImage, type CopyEvent } from "../../src/copy/copy.js";
import { digestOf } from "../../src/digest/digest.js";
import { isIndex } from "../../src/media/manifest.js";
import { MediaType } from "../../src/media/types.js";
import { parsePlatform } from "../../src/ref/platform.js";
import { RegistryClient } from "../../src/registry/client.js";
import { OciLayoutStore } from "../../src/store/oci-layout.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startPagingProxy } from "../harness/pager.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeo, skopeoDigest } from "../harness/skopeo.js";
import { runCli } from "./helpers.js";

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

  test("referrers: followed on request (and theirs), with their blobs, listed again at the destination, through an OCI layout too; refused where they cannot be kept", async () => {
    const srcClient = clientOf(target.host);
    const repo = `refcopy/app-${process.pid}`;
    const single = env.anonymous.seeded.single;
    await copyImage(new RegistryStore(clientOf(env.anonymous.host), "test/single"), "v1", new RegistryStore(srcClient, repo), "v1");
    const empty = Buffer.from("{}");
    const sbomLayer = randomBytes(4096);
    await srcClient.pushBlob(repo, empty);
    await srcClient.pushBlob(repo, sbomLayer);
    const emptyDescriptor = { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: empty.length };
    const artifact = (artifactType: string, layer: { mediaType: string; digest: string; size: number }, subject: { mediaType: string; digest: string; size: number }): Buffer =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType, config: emptyDescriptor, layers: [layer], subject }));
    const sbom = artifact("application/vnd.example.sbom", { mediaType: "application/spdx+json", digest: digestOf(sbomLayer), size: sbomLayer.length }, { mediaType: single.mediaType, digest: single.digest, size: single.size });
    const sbomDescriptor = await srcClient.putManifest(repo, digestOf(sbom), sbom);
    const signature = artifact("application/vnd.example.signature", emptyDescriptor, sbomDescriptor);
    await srcClient.putManifest(repo, digestOf(signature), signature);

    const destination = await startRegistry({ mode: "anonymous" });
    try {
      const dstClient = clientOf(destination.host);
      const result = await copyImage(new RegistryStore(srcClient, repo), "v1", new RegistryStore(dstClient, "mirror/app"), "v1", { referrers: true });
      assert.equal(result.referrers, 2);
      assert.equal(result.destination.digest, single.digest);
      assert.deepEqual((await dstClient.referrers("mirror/app", single.digest)).map((d) => [d.digest, d.artifactType]), [[digestOf(sbom), "application/vnd.example.sbom"]]);
      assert.deepEqual((await dstClient.referrers("mirror/app", digestOf(sbom))).map((d) => d.digest), [digestOf(signature)]);
      assert.ok(Buffer.from(await dstClient.getBlobBytes("mirror/app", digestOf(sbomLayer))).equals(sbomLayer));
      assert.deepEqual((await checkImage(new RegistryStore(dstClient, "mirror/app"), digestOf(sbom))).missing, []);

      const plain = await copyImage(new RegistryStore(srcClient, repo), "v1", new RegistryStore(dstClient, "mirror/plain"), "v1");
      assert.equal(plain.referrers, 0);
      assert.deepEqual(await dstClient.referrers("mirror/plain", single.digest), []);

      const cli = await runCli(["--json", "copy", "--referrers", "--progress", "none", `${target.host}/${repo}:v1`, `${destination.host}/mirror/cli:v1`]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal((JSON.parse(cli.out) as { referrers: number }).referrers, 2);
      // Through an OCI layout and back: the layout lists the referrers in index.json, untagged.
      const dir = await mkdtemp(join(tmpdir(), "quayside-referrers-"));
      try {
        const toLayout = await runCli(["--json", "copy", "--referrers", "--progress", "none", `${target.host}/${repo}:v1`, `oci:${dir}/layout:v1`]);
        assert.equal(toLayout.code, 0, toLayout.stderr);
        assert.equal((JSON.parse(toLayout.out) as { referrers: number }).referrers, 2);
        const layout = await OciLayoutStore.open(join(dir, "layout"));
        const root = await layout.resolve("v1");
        assert.deepEqual((await layout.referrers(root)).map((d) => [d.digest, d.artifactType]), [[digestOf(sbom), "application/vnd.example.sbom"]]);
        assert.deepEqual((await layout.referrers({ mediaType: MediaType.OciManifest, digest: digestOf(sbom), size: sbom.length })).map((d) => d.digest), [digestOf(signature)]);
        const index = JSON.parse(await readFile(join(dir, "layout", "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
        assert.deepEqual(index.manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] === undefined).map((m) => m.digest).sort(), [digestOf(sbom), digestOf(signature)].sort());
        // skopeo still finds the image by its tag among the untagged entries.
        assert.equal((await skopeo(["inspect", "--format", "{{.Digest}}", `oci:${join(dir, "layout")}:v1`])).trim(), single.digest);
        const back = await runCli(["--json", "copy", "--referrers", "--progress", "none", `oci:${dir}/layout:v1`, `${destination.host}/mirror/back:v1`]);
        assert.equal(back.code, 0, back.stderr);
        assert.deepEqual((await dstClient.referrers("mirror/back", single.digest)).map((d) => d.digest), [digestOf(sbom)]);
        assert.deepEqual((await dstClient.referrers("mirror/back", digestOf(sbom))).map((d) => d.digest), [digestOf(signature)]);
        // A docker archive cannot hold them: a usage error before anything is written.
        const toArchive = await runCli(["copy", "--referrers", `${target.host}/${repo}:v1`, `docker-archive:${dir}/a.tar:app:v1`]);
        assert.equal(toArchive.code, 2, toArchive.stderr);
        assert.match(toArchive.stderr, /cannot hold referrers/);
        assert.deepEqual((await readdir(dir)).filter((name) => name.includes("a.tar")), [], "the refused archive left a file");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await destination.stop();
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
