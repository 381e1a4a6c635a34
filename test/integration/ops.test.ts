/**
 * The operations layer against the real registry: the calls a library user makes (the same the
 * CLI makes), reads on OCI layouts and docker archives with the registry's shapes, and the
 * requests each read costs, counted at a front of our own.
 */
import * as assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  check,
  ClientPool,
  copy,
  getConfig,
  getDigest,
  getManifest,
  inspect,
  isNotFound,
  listTags,
  PlatformNotFoundError,
  UnsupportedError,
  type InspectSummary,
} from "../../src/index.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startPagingProxy, type PagingProxy } from "../harness/pager.js";
import { collect, runCli } from "./helpers.js";

let env: TestEnvironment;
let workDir: string;
const options = { configFiles: false, retry: { retries: 1, baseDelayMs: 10 } } as const;

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-ops-"));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("requests per read, counted at a front", () => {
  let front: PagingProxy;
  before(async () => {
    front = await startPagingProxy({ upstream: env.anonymous.url });
  });
  after(async () => {
    await front.close();
  });

  const counted = async (work: (host: string) => Promise<unknown>): Promise<string[]> => {
    front.reset();
    await work(front.host);
    return front.stats().requests.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, "DIGEST")}`);
  };

  test("digest: one HEAD; with a platform, one GET of the index", async () => {
    const multi = env.anonymous.seeded.multi;
    let found = "";
    assert.deepEqual(
      await counted(async (host) => (found = (await getDigest(`${host}/${multi.repository}:${multi.tag}`, options)).digest)),
      [`HEAD /v2/${multi.repository}/manifests/${multi.tag}`],
    );
    assert.equal(found, multi.digest);
    const arm64 = multi.manifests.find((m) => m.platform.architecture === "arm64");
    assert.ok(arm64);
    assert.deepEqual(
      await counted(async (host) => (found = (await getDigest(`${host}/${multi.repository}:${multi.tag}`, { ...options, platform: "linux/arm64" })).digest)),
      [`GET /v2/${multi.repository}/manifests/${multi.tag}`],
    );
    assert.equal(found, arm64.digest);
  });

  test("inspect: an index is 1 request; an index with a platform 3 (index, image, config); an image 2", async () => {
    const { multi, single } = env.anonymous.seeded;
    let summary: InspectSummary | undefined;
    assert.deepEqual(await counted(async (host) => (summary = await inspect(`${host}/${multi.repository}:${multi.tag}`, options))), [
      `GET /v2/${multi.repository}/manifests/${multi.tag}`,
    ]);
    assert.equal(summary?.kind, "index");
    assert.deepEqual(await counted(async (host) => (summary = await inspect(`${host}/${multi.repository}:${multi.tag}`, { ...options, platform: "linux/arm/v7" }))), [
      `GET /v2/${multi.repository}/manifests/${multi.tag}`,
      `GET /v2/${multi.repository}/manifests/DIGEST`,
      `GET /v2/${multi.repository}/blobs/DIGEST`,
    ]);
    const picked = summary as InspectSummary | undefined;
    assert.equal(picked?.kind === "image" ? picked.platform : undefined, "linux/arm/v7");
    assert.deepEqual(await counted(async (host) => (summary = await inspect(`${host}/${single.repository}:${single.tag}`, options))), [
      `GET /v2/${single.repository}/manifests/${single.tag}`,
      `GET /v2/${single.repository}/blobs/DIGEST`,
    ]);
    assert.equal(summary?.digest, single.digest);
  });

  test("requests made one after the other share one connection: an inspect with a platform, HEADs, a tag listing", async () => {
    // Plain HTTP: the TLS probe of a loopback host is a connection of its own.
    const plain = { ...options, plainHttp: true };
    const { multi, single } = env.anonymous.seeded;
    const connections = async (work: (host: string) => Promise<unknown>): Promise<{ requests: number; connections: number }> => {
      front.reset();
      await work(front.host);
      const stats = front.stats();
      return { requests: stats.count, connections: stats.connections };
    };
    assert.deepEqual(await connections((host) => inspect(`${host}/${multi.repository}:${multi.tag}`, { ...plain, platform: "linux/arm/v7" })), { requests: 3, connections: 1 });
    // HEADs: undici would ask the registry to close the connection after each.
    const pool = new ClientPool(plain);
    try {
      const reference = (host: string): string => `${host}/${single.repository}:${single.tag}`;
      assert.deepEqual(
        await connections(async (host) => {
          await getDigest(reference(host), { pool });
          await getDigest(reference(host), { pool });
          await getManifest(reference(host), { pool });
        }),
        { requests: 3, connections: 1 },
      );
    } finally {
      await pool.close();
    }
    const tags = await connections((host) => collect(listTags(`${host}/${env.anonymous.seeded.tags.repository}`, { ...plain, pageSize: 100 })));
    assert.ok(tags.requests >= 3, `a paged listing made ${tags.requests} requests`);
    assert.equal(tags.connections, 1, `tags: ${JSON.stringify(tags)}`);
  });

  test("one pool shares its connections and its client across calls", async () => {
    const pool = new ClientPool(options);
    try {
      const { single } = env.anonymous.seeded;
      const reference = `${front.host}/${single.repository}:${single.tag}`;
      const [a, b] = await Promise.all([getDigest(reference, { pool }), getManifest(reference, { pool })]);
      assert.equal(a.digest, b.digest);
      assert.equal(pool.client(front.host), pool.client(front.host));
    } finally {
      await pool.close();
    }
  });
});

describe("reads work on OCI layouts and docker archives as on a registry", () => {
  test("inspect, manifest, digest, config, tags and check agree across the three", async () => {
    const { multi } = env.anonymous.seeded;
    const source = `${env.anonymous.host}/${multi.repository}:${multi.tag}`;
    const layout = `oci:${join(workDir, "layout")}:v1`;
    const archive = `docker-archive:${join(workDir, "image.tar")}:team/app:v1`;
    await copy(source, layout, options);
    // An archive holds one platform: this one is picked explicitly, as the registry read below.
    await copy(source, archive, { ...options, platforms: ["linux/arm64"] });

    const registryIndex = await inspect(source, options);
    const layoutIndex = await inspect(layout, options);
    assert.equal(layoutIndex.kind, "index");
    assert.deepEqual({ ...layoutIndex, reference: "" }, { ...registryIndex, reference: "" });
    assert.equal(layoutIndex.reference, layout);

    for (const where of [source, layout]) {
      assert.equal((await getDigest(where, options)).digest, multi.digest);
      assert.equal((await getManifest(where, { ...options, platform: "linux/arm64" })).digest, multi.manifests.find((m) => m.platform.architecture === "arm64")?.digest);
      assert.deepEqual((await check(where, options)).missing, []);
    }
    const registryArm = await inspect(source, { ...options, platform: "linux/arm64" });
    const archiveImage = await inspect(archive, options);
    assert.equal(archiveImage.kind, "image");
    assert.ok(registryArm.kind === "image" && archiveImage.kind === "image");
    // The archive keeps the config and the layer blobs (the manifest comes back as Docker schema 2).
    assert.equal(archiveImage.platform, registryArm.platform);
    assert.deepEqual(archiveImage.config.digest, registryArm.config.digest);
    assert.deepEqual(
      archiveImage.layers.map((l) => [l.digest, l.size]),
      registryArm.layers.map((l) => [l.digest, l.size]),
    );
    const [registryConfig, layoutConfig, archiveConfig] = await Promise.all([
      getConfig(source, { ...options, platform: "linux/arm64" }),
      getConfig(layout, { ...options, platform: "linux/arm64" }),
      getConfig(archive, options),
    ]);
    assert.deepEqual(layoutConfig.bytes, registryConfig.bytes);
    assert.deepEqual(archiveConfig.bytes, registryConfig.bytes);
    assert.deepEqual((await check(archive, options)).missing, []);

    assert.deepEqual(await collect(listTags(`oci:${join(workDir, "layout")}`, options)), ["v1"]);
    assert.deepEqual(await collect(listTags(`docker-archive:${join(workDir, "image.tar")}`, options)), ["team/app:v1"]);
  });

  test("a layout named without a tag reads its only image; with several it asks for one", async () => {
    const { single, docker } = env.anonymous.seeded;
    const dir = join(workDir, "names");
    await copy(`${env.anonymous.host}/${single.repository}:${single.tag}`, `oci:${dir}:one`, options);
    assert.equal((await getDigest(`oci:${dir}`, options)).digest, single.digest);
    await copy(`${env.anonymous.host}/${docker.repository}:${docker.tag}`, `oci:${dir}:two`, options);
    await assert.rejects(getDigest(`oci:${dir}`, options), /holds 2 images \(tags: one, two\); name one as oci:DIR:TAG/);
    const missing = await getDigest(`oci:${dir}:three`, options).catch((err: unknown) => err);
    assert.ok(isNotFound(missing), String(missing));
  });

  test("a platform that a single image does not have is a not-found naming the image's", async () => {
    const { single } = env.anonymous.seeded;
    const reference = `${env.anonymous.host}/${single.repository}:${single.tag}`;
    const err = await inspect(reference, { ...options, platform: "linux/s390x" }).catch((e: unknown) => e);
    assert.ok(err instanceof PlatformNotFoundError, String(err));
    assert.match(err.message, /linux\/s390x; the image is: linux\/amd64/);
    const cli = await runCli(["--platform", "linux/s390x", "inspect", reference]);
    assert.equal(cli.code, 3, cli.stderr);
    assert.equal(cli.stderr, "quayside: no manifest for platform linux/s390x; the image is: linux/amd64\n");
  });

  test("capabilities are checked up front with one error: an index into an archive, referrers into an archive", async () => {
    const { multi } = env.anonymous.seeded;
    const source = `${env.anonymous.host}/${multi.repository}:${multi.tag}`;
    const target = join(workDir, "refused.tar");
    await assert.rejects(copy(source, `docker-archive:${target}:a/b:c`, { ...options, allPlatforms: true }), UnsupportedError);
    await assert.rejects(copy(source, `docker-archive:${target}:a/b:c`, { ...options, referrers: true, platforms: ["linux/amd64"] }), UnsupportedError);
  });
});

describe("destructive commands never assume a tag", () => {
  test("untag and delete without a tag or digest are usage errors (exit 2) and remove nothing", async () => {
    const { single } = env.anonymous.seeded;
    for (const command of ["untag", "delete"]) {
      const result = await runCli([command, `${env.anonymous.host}/${single.repository}`]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /tag .*missing: name the tag or digest explicitly/);
    }
    assert.equal((await getDigest(`${env.anonymous.host}/${single.repository}:${single.tag}`, options)).digest, single.digest);
  });
});
