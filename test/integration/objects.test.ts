/**
 * The high-level objects (dreg-client's Registry / Repository / Image / PlatformImage) and
 * dockerreg's helpers against the real registry: catalog namespaces and filters, authping with
 * good and bad credentials, manifests and blobs checked, read and deleted, image size / created /
 * metadata compared with what the test built, copies across registries and accounts, and a pull
 * into a directory that a second pull re-uses without asking the registry for a blob.
 * Images are built in memory by the test (digests from node:crypto) and pushed with copyImage.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import {
  check,
  copyImage,
  deleteImage,
  deleteTag,
  getDigest,
  getImageCreated,
  getImageMetadata,
  getImageSize,
  imageExists,
  isNotFound,
  NetworkError,
  pullAndPushImage,
  pullImage,
  pushImage,
  Registry,
  RegistryClient,
  RegistryStore,
  tagImage,
  UsageError,
} from "../../src/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { content, imageManifest, index, layer, OCI_CONFIG, sha256, type BuiltImage, type Content, type TestPlatform } from "../harness/memory-images.js";
import { startPagingProxy, type PagingProxy } from "../harness/pager.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeo, skopeoDigest } from "../harness/skopeo.js";
import { collect, runCli } from "./helpers.js";

let env: TestEnvironment;
let fresh: RunningRegistry;
let workDir: string;
const clients: RegistryClient[] = [];
const options = { configFiles: false, retry: { retries: 1, baseDelayMs: 10 } } as const;

/** One platform's image with a history as builders write it; every value a test expects is here. */
interface Built {
  image: BuiltImage;
  layers: Content[];
  config: Content;
  platform: TestPlatform;
  newest: string;
}

function built(platform: TestPlatform, seed: string): Built {
  const layers = [layer(`${seed}-1`, 3000), layer(`${seed}-2`, 1234)];
  const newest = "2024-06-01T12:30:00.123456789Z";
  const config = content(
    JSON.stringify({
      created: "2024-06-01T12:00:00Z",
      ...platform,
      config: { Env: ["PATH=/usr/bin", `SEED=${seed}`], Entrypoint: ["/app"], Cmd: ["--serve"], Labels: { seed } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l.bytes)) },
      history: [
        { created: "2024-05-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:base in / " },
        { created: newest, created_by: "RUN /bin/sh -c make install # buildkit" },
        { created: "2024-06-01T12:00:00Z", created_by: '/bin/sh -c #(nop)  CMD ["--serve"]', empty_layer: true },
      ],
    }),
    OCI_CONFIG,
  );
  const manifest = imageManifest({ config, layers });
  return { image: { root: manifest, manifests: [manifest], blobs: [config, ...layers] }, layers, config, platform, newest };
}

const amd = built({ os: "linux", architecture: "amd64" }, "amd");
const arm = built({ os: "linux", architecture: "arm64", variant: "v8" }, "arm");
const multiRoot = index([
  { manifest: amd.image.root, platform: amd.platform },
  { manifest: arm.image.root, platform: arm.platform },
]);
const multi: BuiltImage = { root: multiRoot, manifests: [amd.image.root, arm.image.root, multiRoot], blobs: [...amd.image.blobs, ...arm.image.blobs] };
const sumOf = (b: Built): number => b.layers.reduce((sum, l) => sum + l.bytes.length, 0);

/** Push a built image to host/repository:tag through a MemoryStore and the copy engine. */
async function push(host: string, repository: string, tag: string, image: BuiltImage): Promise<void> {
  const memory = new MemoryStore();
  for (const blob of image.blobs) await memory.push(blob.descriptor, blob.bytes);
  for (const manifest of image.manifests) await memory.push(manifest.descriptor, manifest.bytes);
  await memory.tag(image.root.descriptor, "src");
  const client = new RegistryClient(host, { dockerConfig: false });
  clients.push(client);
  await copyImage(memory, "src", new RegistryStore(client, repository), tag);
}

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-objects-"));
  fresh = await startRegistry({ mode: "anonymous" });
  for (const repository of ["team/web", "team/api", "other/web", "solo", "org/group/svc"]) await push(fresh.host, repository, "v1", multi);
  await push(fresh.host, "single/app", "v1", amd.image);
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await fresh?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe("Registry: catalog by namespace, cached until refresh", () => {
  test("namespaces and repositories, filtered by namespace and name; a name without / is in library", async () => {
    const registry = new Registry(fresh.host, { dockerConfig: false });
    try {
      // The catalog lists names sorted; namespaces come in the order first seen.
      assert.deepEqual(await registry.namespaces(), ["org", "other", "single", "library", "team"]);
      assert.deepEqual(await registry.namespaces(/^o/), ["org", "other"]);
      assert.deepEqual(await registry.namespaces({ repository: "^web$" }), ["other", "team"]);
      assert.deepEqual([...(await registry.repositories("team")).keys()], ["team/api", "team/web"]);
      assert.deepEqual([...(await registry.repositories("library")).keys()], ["solo"]);
      assert.deepEqual([...(await registry.repositories(undefined, { repository: /^web$/ })).keys()], ["other/web", "team/web"]);
      assert.deepEqual([...(await registry.repositories(undefined, { namespace: "^org$", repository: "^group/" })).keys()], ["org/group/svc"]);
      assert.deepEqual([...(await registry.repositories("nobody")).keys()], []);
      const web = (await registry.repositories("team")).get("team/web");
      assert.ok(web);
      assert.deepEqual(await collect(web.tags()), ["v1"]);
      assert.deepEqual(await collect(registry.repository("web", "team").tags()), ["v1"]);
      assert.throws(() => registry.repository("team/web", "team"), UsageError);

      // Read once: a repository pushed now appears only after refresh().
      await push(fresh.host, "team/zz-late", "v1", amd.image);
      assert.deepEqual([...(await registry.repositories("team")).keys()], ["team/api", "team/web"]);
      await registry.refresh();
      assert.deepEqual([...(await registry.repositories("team")).keys()], ["team/api", "team/web", "team/zz-late"]);
    } finally {
      await registry.close();
    }
  });

  test("authping: true with accepted credentials, false with refused ones, on basic and token auth; an unreachable registry is a NetworkError", async () => {
    const tls = { caFile: env.basic.caFile };
    const basic = (password: string): Registry => new Registry(env.basic.host, { dockerConfig: false, tls, credentials: { kind: "basic", username: env.basic.username, password } });
    const token = (password: string): Registry =>
      new Registry(env.token.host, { dockerConfig: false, credentials: { kind: "basic", username: env.token.users.admin.username, password } });
    const cases: [Registry, boolean][] = [
      [basic(env.basic.password), true],
      [basic(`${env.basic.password}-wrong`), false],
      [token(env.token.users.admin.password), true],
      [token("wrong-password"), false],
      [new Registry(fresh.host, { dockerConfig: false }), true],
    ];
    try {
      for (const [registry, expected] of cases) assert.equal(await registry.authping(), expected, registry.host);
      // ping() answers without credentials: the basic registry challenges.
      assert.equal((await cases[1]![0].ping()).status, 401);
    } finally {
      await Promise.all(cases.map(([r]) => r.close()));
    }
    const closed = await startRegistry({ mode: "anonymous" });
    const host = closed.host;
    await closed.stop();
    const gone = new Registry(host, { dockerConfig: false, retry: { retries: 0 } });
    try {
      await assert.rejects(gone.authping(), NetworkError);
    } finally {
      await gone.close();
    }
  });
});

describe("Repository: manifests and blobs", () => {
  test("checkManifest gives the digest or null (404); getManifest the exact bytes; getBlob verified bytes; deleteBlob and deleteManifest remove them", async () => {
    await push(fresh.host, "repo/deletes", "v1", arm.image);
    const registry = new Registry(fresh.host, { dockerConfig: false });
    try {
      const repository = registry.repository("repo/deletes");
      assert.equal(await repository.checkManifest("v1"), sha256(arm.image.root.bytes));
      assert.equal(await repository.checkManifest("absent"), null);
      assert.equal(await registry.repository("no/such-repo").checkManifest("v1"), null);
      const manifest = await repository.getManifest("v1");
      assert.deepEqual(Buffer.from(manifest.bytes), arm.image.root.bytes);

      const [first] = arm.layers;
      assert.ok(first);
      const chunks: Buffer[] = [];
      for await (const chunk of await repository.getBlob(first.descriptor.digest)) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), first.bytes);

      await repository.deleteBlob(first.descriptor.digest);
      await assert.rejects(repository.getBlob(first.descriptor.digest), (err: unknown) => isNotFound(err));
      await repository.deleteManifest(sha256(arm.image.root.bytes));
      assert.equal(await repository.checkManifest("v1"), null);
      await assert.rejects(repository.deleteManifest("v1"), (err: unknown) => err instanceof Error && "code" in err && err.code === "INVALID_DIGEST");
    } finally {
      await registry.close();
    }
  });

  test("getImage: platforms of the index and each platform image as built; a single image is an index of one", async () => {
    const registry = new Registry(fresh.host, { dockerConfig: false });
    try {
      const image = await registry.repository("team/web").getImage("v1");
      assert.equal(image.digest, sha256(multi.root.bytes));
      assert.deepEqual(image.platformNames, ["linux/amd64", "linux/arm64/v8"]);
      const platformImage = await image.getPlatformImage({ os: "linux", architecture: "arm64", variant: "v8" });
      assert.equal(platformImage.digest, sha256(arm.image.root.bytes));
      assert.equal(platformImage.size, sumOf(arm));
      assert.equal(platformImage.configDescriptor.digest, sha256(arm.config.bytes));
      assert.deepEqual(
        platformImage.history.map((h) => h.createdBy),
        ["ADD file:base in /", "RUN make install", 'CMD ["--serve"]'],
      );
      assert.deepEqual(platformImage.labels, { seed: "arm" });
      assert.deepEqual([platformImage.entrypoint, platformImage.cmd, platformImage.env], [["/app"], ["--serve"], ["PATH=/usr/bin", "SEED=arm"]]);
      await assert.rejects(image.getPlatformImage("linux/ppc64le"), (err: unknown) => err instanceof Error && err.message.includes("linux/amd64, linux/arm64/v8"));

      const single = await registry.repository("single/app").getImage("v1");
      assert.deepEqual(single.platformNames, ["linux/amd64"]);
      assert.equal((await single.getPlatformImage("linux/amd64")).digest, sha256(amd.image.root.bytes));
    } finally {
      await registry.close();
    }
  });
});

describe("dockerreg's helpers", () => {
  test("getImageSize, getImageCreated and getImageMetadata agree with the bytes pushed", async () => {
    const reference = `${fresh.host}/team/web:v1`;
    assert.equal(await getImageSize(reference, { ...options, platform: "linux/amd64" }), sumOf(amd));
    assert.equal(await getImageSize(reference, { ...options, platform: "linux/arm64" }), sumOf(arm));
    assert.equal(await getImageCreated(reference, { ...options, platform: "linux/arm64" }), arm.newest);
    const metadata = await getImageMetadata(reference, { ...options, platform: "linux/arm64" });
    assert.deepEqual(
      { ...metadata, layers: metadata.layers.map((l) => [l.digest, l.size]) },
      {
        reference,
        registry: fresh.host,
        repository: "team/web",
        tag: "v1",
        digest: sha256(arm.image.root.bytes),
        mediaType: arm.image.root.descriptor.mediaType,
        indexDigest: sha256(multi.root.bytes),
        platform: "linux/arm64/v8",
        os: "linux",
        architecture: "arm64",
        variant: "v8",
        size: sumOf(arm),
        created: "2024-06-01T12:00:00Z",
        lastCreated: arm.newest,
        config: { digest: sha256(arm.config.bytes), size: arm.config.bytes.length, mediaType: OCI_CONFIG },
        layers: arm.layers.map((l) => [sha256(l.bytes), l.bytes.length]),
        labels: { seed: "arm" },
      },
    );
    // A single image needs no platform.
    assert.equal(await getImageSize(`${fresh.host}/single/app:v1`, options), sumOf(amd));
  });

  test("imageExists, tagImage, deleteTag, and deleteImage with its layers", async () => {
    const base = `${fresh.host}/helpers/app`;
    await push(fresh.host, "helpers/app", "v1", multi);
    assert.equal(await imageExists(`${base}:v1`, options), true);
    assert.equal(await imageExists(`${base}:v1`, { ...options, complete: true }), true);
    assert.equal(await imageExists(`${base}:nope`, options), false);
    assert.equal(await imageExists(`${fresh.host}/helpers/none:v1`, options), false);

    const tagged = await tagImage(`${base}:v1`, "stable", options);
    assert.equal(tagged.digest, sha256(multi.root.bytes));
    assert.equal((await getDigest(`${base}:stable`, options)).digest, sha256(multi.root.bytes));
    const untagged = await deleteTag(`${base}:stable`, options);
    assert.equal(untagged.digest, sha256(multi.root.bytes));
    assert.equal(await imageExists(`${base}:stable`, options), false);
    assert.equal(await imageExists(`${base}:v1`, options), true);

    const deleted = await deleteImage(`${base}:v1`, { ...options, layers: true });
    assert.equal(deleted.deleted, sha256(multi.root.bytes));
    assert.deepEqual([...(deleted.manifests ?? [])].sort(), [sha256(amd.image.root.bytes), sha256(arm.image.root.bytes)].sort());
    assert.deepEqual([...(deleted.blobs ?? [])].sort(), multi.blobs.map((b) => sha256(b.bytes)).sort());
    const client = new RegistryClient(fresh.host, { dockerConfig: false });
    clients.push(client);
    for (const blob of multi.blobs) assert.equal(await client.blobExists("helpers/app", sha256(blob.bytes)), false);
    assert.equal(await imageExists(`${base}:v1`, options), false);
    // Other repositories keep their copies.
    assert.equal(await imageExists(`${fresh.host}/team/web:v1`, { ...options, complete: true }), true);
  });

  test("pullAndPushImage: across registries with credentials per side, to another account of one registry, and to a bare tag", async () => {
    const seeded = env.token.seeded.multi;
    const reader = { kind: "basic" as const, ...env.token.users.reader };
    const report = await pullAndPushImage(`${env.token.host}/${seeded.repository}:${seeded.tag}`, `${env.basic.host}/objects/multi:v1`, {
      ...options,
      tls: { caFile: env.basic.caFile },
      source: { credentials: reader },
      destination: { credentials: { kind: "basic", username: env.basic.username, password: env.basic.password } },
    });
    assert.equal(report.destination.digest, seeded.digest);
    const onBasic = await skopeoDigest(env.basic, "objects/multi:v1", { username: env.basic.username, password: env.basic.password });
    assert.equal(onBasic, seeded.digest);

    // One registry, two accounts: the reader may only pull, the admin writes.
    const admin = { kind: "basic" as const, ...env.token.users.admin };
    const same = await pullAndPushImage(`${env.token.host}/${seeded.repository}:${seeded.tag}`, `${env.token.host}/objects/copy:v1`, { ...options, source: { credentials: reader }, destination: { credentials: admin } });
    assert.equal(same.destination.digest, seeded.digest);
    // The reader alone cannot write there.
    await assert.rejects(pullAndPushImage(`${env.token.host}/${seeded.repository}:${seeded.tag}`, `${env.token.host}/objects/denied:v1`, { ...options, credentials: reader }));

    const retagged = await pullAndPushImage(`${fresh.host}/team/web:v1`, "v2", options);
    assert.equal(retagged.to, `${fresh.host}/team/web:v2`);
    assert.equal((await getDigest(`${fresh.host}/team/web:v2`, options)).digest, sha256(multi.root.bytes));
  });
});

describe("pullImage / pushImage: an OCI layout in a directory", () => {
  let front: PagingProxy;
  before(async () => {
    front = await startPagingProxy({ upstream: fresh.url });
  });
  after(async () => {
    await front.close();
  });
  const requests = (): string[] => front.stats().requests.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, "DIGEST")}`);

  test("a pull writes the layout; a second pull re-uses it without a request; refresh asks again but fetches no blob on disk; push puts it back", async () => {
    const directory = join(workDir, "pulled");
    const reference = `${front.host}/team/api:v1`;
    front.reset();
    const first = await pullImage(reference, directory, options);
    assert.equal(first.reused, false);
    assert.equal(first.digest, sha256(multi.root.bytes));
    assert.equal(first.location, `oci:${directory}:v1`);
    const blobGets = requests().filter((r) => r.startsWith("GET /v2/team/api/blobs/"));
    assert.equal(blobGets.length, multi.blobs.length);
    // skopeo reads the layout and finds the digest the registry has.
    assert.equal((await skopeo(["inspect", "--format", "{{.Digest}}", `oci:${directory}:v1`])).trim(), sha256(multi.root.bytes));

    front.reset();
    const second = await pullImage(reference, directory, options);
    assert.deepEqual({ reused: second.reused, digest: second.digest }, { reused: true, digest: first.digest });
    assert.deepEqual(requests(), []);

    front.reset();
    const refreshed = await pullImage(reference, directory, { ...options, refresh: true });
    assert.equal(refreshed.reused, false);
    assert.equal(refreshed.digest, first.digest);
    assert.ok(requests().some((r) => r === "GET /v2/team/api/manifests/v1"), requests().join("\n"));
    assert.deepEqual(requests().filter((r) => r.includes("/blobs/")), []);

    const pushed = await pushImage(directory, `${fresh.host}/pushed/api:v1`, options);
    assert.equal(pushed.destination.digest, sha256(multi.root.bytes));
    assert.equal((await check(`${fresh.host}/pushed/api:v1`, options)).complete, true);
  });
});

describe("the README's objects example", () => {
  test("runs against a real registry and prints what the pushed image holds", async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
    await push(fresh.host, "team/app", "1.0", multi);
    const readme = await readFile(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("\n### Registry, Repository and Image objects; dockerreg's helpers\n"));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, "no ts block under the README's objects section");
    const code = block.replaceAll('from "quayside"', `from ${JSON.stringify(pathToFileURL(join(root, "dist", "index.js")).href)}`).replaceAll("localhost:5000", fresh.host);
    const dir = join(workDir, "readme");
    await mkdir(dir);
    await writeFile(join(dir, "example.mjs"), code);
    const { stdout } = await promisify(execFile)(process.execPath, ["example.mjs"], {
      cwd: dir,
      env: { PATH: process.env["PATH"], HOME: dir, DOCKER_CONFIG: join(dir, "docker") },
      timeout: 60_000,
    });
    const lines = stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^true \[ 'team' \] team\/api team\/app /);
    assert.equal(lines[1], "linux/amd64 linux/arm64/v8");
    assert.equal(lines[2], `${sumOf(arm)} ADD file:base in / | RUN make install | CMD ["--serve"] PATH=/usr/bin SEED=arm`);
    assert.equal(lines[3], `${sha256(multi.root.bytes)} null`);
    assert.equal(lines[4], `${sumOf(arm)} ${arm.newest}`);
    assert.equal(lines[5], "arm64");
    assert.equal(lines[6], "false true");
    assert.equal(lines[7], "true false");
    assert.equal(await skopeoDigest(fresh, "restored/app:1.0"), sha256(multi.root.bytes));
  });
});

describe("quayside inspect shows the history", () => {
  test("text and JSON list each step with its command cleaned", async () => {
    const reference = `${fresh.host}/team/web:v1`;
    const text = await runCli(["--platform", "linux/arm64", "inspect", reference]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.out, /History: +3 steps/);
    assert.match(text.out, new RegExp(`\\n +${arm.newest.replace(/\./g, "\\.")} +RUN make install\\n`));
    const json = await runCli(["--json", "--platform", "linux/arm64", "inspect", reference]);
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.out) as { history?: { createdBy: string; rawCreatedBy: string; emptyLayer: boolean }[] };
    assert.deepEqual(
      summary.history?.map((h) => [h.createdBy, h.emptyLayer]),
      [
        ["ADD file:base in /", false],
        ["RUN make install", false],
        ['CMD ["--serve"]', true],
      ],
    );
    assert.equal(summary.history?.[1]?.rawCreatedBy, "RUN /bin/sh -c make install # buildkit");
  });
});
