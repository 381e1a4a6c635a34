/**
 * python-dxf's blob store with aliases against the real registry: blobs pushed from a file, bytes
 * and a stream (skipped when present, with progress), pulled as verified streams, aliases set, read,
 * listed and deleted, a multi-arch alias, and the same through the CLI; skopeo reads the manifests.
 */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import {
  blobSizes,
  ClientPool,
  copy,
  deleteAlias,
  getAlias,
  getAliasDigest,
  hashBytes,
  hashFile,
  isNotFound,
  listAliases,
  MediaType,
  openBlob,
  PlatformNotFoundError,
  pullBlobs,
  pushBlob,
  setAlias,
  setAliasManifest,
  sha256File,
  UsageError,
  type BlobInfo,
} from "../../src/index.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeoInspectRaw } from "../harness/skopeo.js";
import { collect, runCli } from "./helpers.js";

let registry: RunningRegistry;
let workDir: string;
let pool: ClientPool;
const options = { configFiles: false, retry: { retries: 1, baseDelayMs: 10 } } as const;

before(async () => {
  registry = await startRegistry({ mode: "anonymous" });
  workDir = await mkdtemp(join(tmpdir(), "quayside-alias-"));
  pool = new ClientPool(options);
});
after(async () => {
  await pool?.close();
  await registry?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const at = (path: string): string => `${registry.host}/${path}`;
/** The sha256 digest computed here, independently of the library. */
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Push some random blobs to REPO; their content and digests. */
async function pushSome(repository: string, sizes: readonly number[]): Promise<{ content: Buffer; digest: string }[]> {
  const pushed: { content: Buffer; digest: string }[] = [];
  for (const size of sizes) {
    const content = randomBytes(size);
    const result = await pushBlob(repository, content, { pool });
    pushed.push({ content, digest: result.digest });
  }
  return pushed;
}

describe("blobs as python-dxf pushes and pulls them", () => {
  test("hashBytes and hashFile give the registry's sha256 digest; sha256File is hashFile", async () => {
    const content = randomBytes(100_000);
    const file = join(workDir, "hash.bin");
    await writeFile(file, content);
    assert.equal(hashBytes(content), sha256(content));
    assert.equal(await hashFile(file), sha256(content));
    assert.equal(await sha256File(file), sha256(content));
  });

  test("push from a file, bytes and a stream with its digest; a blob already there is skipped and says so", async () => {
    const repo = at("dxf/push");
    const fromFile = randomBytes(300_000);
    const file = join(workDir, "push.bin");
    await writeFile(file, fromFile);
    const first = await pushBlob(repo, file, { pool });
    assert.deepEqual({ digest: first.digest, size: first.size, outcome: first.outcome }, { digest: sha256(fromFile), size: fromFile.length, outcome: "uploaded" });
    assert.equal((await pushBlob(repo, file, { pool })).outcome, "skipped");

    const bytes = randomBytes(5_000);
    assert.equal((await pushBlob(repo, bytes, { pool })).outcome, "uploaded");
    assert.equal((await pushBlob(repo, bytes, { pool })).outcome, "skipped");
    const forced = await pushBlob(repo, bytes, { pool, skipExisting: false });
    assert.equal(forced.outcome, "uploaded", "skipExisting: false sends it again");

    const streamed = randomBytes(200_000);
    const chunks = [streamed.subarray(0, 70_000), streamed.subarray(70_000)];
    const viaStream = await pushBlob(repo, Readable.from(chunks), { pool, digest: sha256(streamed) });
    assert.deepEqual({ digest: viaStream.digest, outcome: viaStream.outcome }, { digest: sha256(streamed), outcome: "uploaded" });
    const again = await pushBlob(repo, Readable.from(chunks), { pool, digest: sha256(streamed) });
    assert.equal(again.outcome, "skipped");

    for (const content of [fromFile, bytes, streamed]) {
      const opened = await openBlob(`${repo}@${sha256(content)}`, { pool });
      assert.ok((await readStream(opened.stream)).equals(content));
    }
  });

  test("the progress callback counts up to the size", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(workDir, "progress.bin");
    await writeFile(file, content);
    const seen: { bytes: number; total: number }[] = [];
    const result = await pushBlob(at("dxf/progress"), file, { pool, onProgress: (bytes, total) => seen.push({ bytes, total }) });
    assert.equal(result.outcome, "uploaded");
    assert.ok(seen.length >= 2, `called ${seen.length} times`);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i]?.bytes ?? 0) >= (seen[i - 1]?.bytes ?? 0), "never goes back");
    assert.ok(seen.every((s) => s.total === content.length));
    assert.equal(seen.at(-1)?.bytes, content.length);
  });

  test("openBlob is a verified stream, with its size when asked; a pool of its own closes with the stream", async () => {
    const repo = at("dxf/pull");
    const [blob] = await pushSome(repo, [250_000]);
    assert.ok(blob);
    const withSize = await openBlob(`${repo}@${blob.digest}`, { pool, size: true });
    assert.equal(withSize.size, blob.content.length);
    assert.ok((await readStream(withSize.stream)).equals(blob.content));
    const own = await openBlob(`${repo}@${blob.digest}`, options);
    assert.equal(own.size, undefined, "no HEAD unless asked");
    assert.ok((await readStream(own.stream)).equals(blob.content));
    await assert.rejects(openBlob(`${repo}@${sha256(Buffer.from("not pushed"))}`, { pool }), (err: unknown) => isNotFound(err));
  });
});

describe("aliases", () => {
  test("set, get (with sizes), digest, list and delete, as dxf has them; skopeo reads the manifest", async () => {
    const repo = at("dxf/aliases");
    const blobs = await pushSome(repo, [1_000, 20_000, 3]);
    const digests = blobs.map((b) => b.digest);
    const set = await setAlias(repo, "hello", ...digests);
    assert.deepEqual(
      set.blobs,
      blobs.map((b) => ({ digest: b.digest, size: b.content.length })),
    );
    assert.equal(set.digest, sha256(Buffer.from(set.manifest)));
    const manifest = JSON.parse(set.manifest) as { mediaType: string; config: { digest: string }; layers: { digest: string; mediaType: string }[] };
    assert.equal(manifest.mediaType, MediaType.DockerManifestV2);
    assert.equal(manifest.config.digest, digests[0]);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      digests,
    );

    const raw = await skopeoInspectRaw(registry, "dxf/aliases:hello", null);
    assert.equal(raw.bytes.toString("utf8"), set.manifest, "skopeo reads back the exact manifest");
    assert.equal(raw.digest, set.digest);

    assert.deepEqual(await getAlias(repo, "hello", { pool }), digests);
    assert.deepEqual(
      await getAlias(repo, "hello", { pool, sizes: true }),
      blobs.map((b) => ({ digest: b.digest, size: b.content.length })),
    );
    assert.deepEqual(await getAlias(repo, set.digest, { pool }), digests, "a manifest digest names it too");
    assert.equal(await getAliasDigest(repo, "hello", { pool }), digests[0]);

    // The array form with options; the same blobs in another order make another manifest.
    const other = await setAlias(repo, "reversed", [...digests].reverse(), { pool });
    assert.notEqual(other.digest, set.digest);
    assert.equal(await getAliasDigest(repo, "reversed", { pool }), digests.at(-1));

    // Deleting by digest takes every tag on the manifest: "twin" names the same one as "hello".
    assert.equal((await setAlias(repo, "twin", digests, { pool })).digest, set.digest);
    const names = await collect(listAliases(repo, { pool, pageSize: 1 }));
    assert.deepEqual([...names].sort(), ["hello", "reversed", "twin"]);
    const deleted = await deleteAlias(repo, "hello", { pool });
    assert.deepEqual(deleted.digests, digests);
    assert.equal(deleted.deleted, set.digest);
    assert.match(deleted.note, /every tag/);
    await assert.rejects(getAlias(repo, "hello", { pool }), (err: unknown) => isNotFound(err));
    await assert.rejects(getAlias(repo, "twin", { pool }), (err: unknown) => isNotFound(err), "the twin tag went with it");
    assert.deepEqual(await collect(listAliases(repo, { pool })), ["reversed"]);
    const kept = await openBlob(`${repo}@${digests[1]}`, { pool });
    assert.ok((await readStream(kept.stream)).equals(blobs[1]?.content ?? Buffer.alloc(0)), "the blobs stay");
  });

  test("copy carries an alias to another repository, digest unchanged; it reads back there", async () => {
    const repo = at("dxf/copy-from");
    const blobs = await pushSome(repo, [123, 4_567]);
    const set = await setAlias(repo, "v1", blobs.map((b) => b.digest), { pool });
    const copied = await copy(`${repo}:v1`, at("dxf/copy-to:v1"), { pool });
    assert.equal(copied.destination.digest, set.digest);
    assert.deepEqual(await getAlias(at("dxf/copy-to"), "v1", { pool }), blobs.map((b) => b.digest));
    const pulled = join(workDir, "copied.bin");
    await pullBlobs(at("dxf/copy-to"), ["@v1"], pulled, { pool });
    assert.ok((await readFile(pulled)).equals(Buffer.concat(blobs.map((b) => b.content))));
  });

  test("setAlias refuses a blob the repository lacks, an invalid alias and no digests", async () => {
    const repo = at("dxf/refuse");
    const [blob] = await pushSome(repo, [10]);
    assert.ok(blob);
    await assert.rejects(setAlias(repo, "x", [blob.digest, sha256(Buffer.from("absent"))], { pool }), (err: unknown) => isNotFound(err));
    assert.throws(() => setAlias(repo, "not/a/tag", blob.digest), /not a valid alias/);
    assert.throws(() => setAlias(repo, "empty"), UsageError);
  });

  test("a multi-arch alias: one list per os/arch[/variant], or one platform; its digests; delete gives each platform's manifest", async () => {
    const repo = at("dxf/multi");
    const amd = await pushSome(repo, [400, 500]);
    const arm = await pushSome(repo, [600]);
    const amdAlias = await setAlias(repo, "amd64-only", amd.map((b) => b.digest), { pool });
    const armAlias = await setAlias(repo, "arm-only", arm.map((b) => b.digest), { pool });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [
        { mediaType: MediaType.DockerManifestV2, digest: amdAlias.digest, size: Buffer.byteLength(amdAlias.manifest), platform: { os: "linux", architecture: "amd64" } },
        { mediaType: MediaType.DockerManifestV2, digest: armAlias.digest, size: Buffer.byteLength(armAlias.manifest), platform: { os: "linux", architecture: "arm", variant: "v7" } },
      ],
    });
    const put = await setAliasManifest(repo, "multi", index, { pool });
    assert.equal(put.digest, sha256(Buffer.from(index)));
    assert.equal(put.mediaType, MediaType.DockerManifestList);
    assert.equal((await skopeoInspectRaw(registry, "dxf/multi:multi", null)).bytes.toString("utf8"), index);

    const all = await getAlias(repo, "multi", { pool });
    assert.deepEqual(all, { "linux/amd64": amd.map((b) => b.digest), "linux/arm/v7": arm.map((b) => b.digest) });
    const sized = await getAlias(repo, "multi", { pool, sizes: true });
    assert.deepEqual(sized, {
      "linux/amd64": amd.map((b): BlobInfo => ({ digest: b.digest, size: b.content.length })),
      "linux/arm/v7": arm.map((b): BlobInfo => ({ digest: b.digest, size: b.content.length })),
    });
    assert.deepEqual(await getAlias(repo, "multi", { pool, platform: "linux/arm/v7" }), arm.map((b) => b.digest));
    assert.deepEqual(await getAlias(repo, "multi", { pool, platform: "linux/arm" }), arm.map((b) => b.digest), "matched as a platform when no name is equal");
    await assert.rejects(getAlias(repo, "multi", { pool, platform: "linux/s390x" }), PlatformNotFoundError);
    assert.deepEqual(await getAliasDigest(repo, "multi", { pool }), { "linux/amd64": amd[0]?.digest, "linux/arm/v7": arm[0]?.digest });
    assert.equal(await getAliasDigest(repo, "multi", { pool, platform: "linux/amd64" }), amd[0]?.digest);

    const total = (list: readonly { content: Buffer }[]): number => list.reduce((n, b) => n + b.content.length, 0);
    assert.deepEqual(await blobSizes(repo, ["@multi", amd[0]?.digest as string], { pool }), {
      repository: repo,
      sizes: [
        { name: "@multi", size: { "linux/amd64": total(amd), "linux/arm/v7": total(arm) } },
        { name: amd[0]?.digest, size: amd[0]?.content.length },
      ],
    });
    assert.deepEqual((await blobSizes(repo, ["@multi"], { pool, platform: "linux/amd64" })).sizes, [{ name: "@multi", size: total(amd) }]);

    await assert.rejects(pullBlobs(repo, ["@multi"], join(workDir, "never.bin"), { pool }), UsageError);
    const out = join(workDir, "arm.bin");
    const counts: number[] = [];
    const pulled = await pullBlobs(repo, ["@multi", amd[1]?.digest as string], out, { pool, platform: "linux/arm/v7", onProgress: (bytes, total) => counts.push(bytes, total) });
    const expected = Buffer.concat([...arm.map((b) => b.content), amd[1]?.content ?? Buffer.alloc(0)]);
    assert.ok((await readFile(out)).equals(expected));
    assert.equal(pulled.size, expected.length);
    const bytes = counts.filter((_, i) => i % 2 === 0);
    assert.ok(counts.every((n, i) => i % 2 === 0 || n === expected.length), "the total is every blob's");
    assert.ok(bytes.every((n, i) => i === 0 || n >= (bytes[i - 1] ?? 0)), "never goes back");
    assert.equal(bytes.at(-1), expected.length);

    const deleted = await deleteAlias(repo, "multi", { pool });
    assert.deepEqual(deleted.digests, { "linux/amd64": amdAlias.digest, "linux/arm/v7": armAlias.digest });
    assert.deepEqual(await getAlias(repo, amdAlias.digest, { pool }), amd.map((b) => b.digest), "the platforms' manifests remain");
  });
});

describe("the CLI", () => {
  test("alias set/get/digest/list/delete print what dxf's commands print", async () => {
    const repo = at("dxf/cli");
    const blobs = await pushSome(repo, [700, 80_000]);
    const digests = blobs.map((b) => b.digest);

    const set = await runCli(["alias", "set", repo, "pair", ...digests]);
    assert.equal(set.code, 0, set.stderr);
    const manifest = JSON.parse(set.out) as { config: { digest: string }; layers: { digest: string }[] };
    assert.equal(manifest.config.digest, digests[0]);
    assert.match(set.stderr, new RegExp(`pair -> ${sha256(set.stdout)}`));

    const get = await runCli(["alias", "get", repo, "pair"]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(get.out.trim().split("\n"), digests);
    const sizes = await runCli(["alias", "get", repo, "pair", "--sizes"]);
    assert.deepEqual(
      sizes.out.trim().split("\n"),
      blobs.map((b) => `${b.digest} ${b.content.length}`),
    );
    const json = await runCli(["--json", "alias", "get", repo, "pair"]);
    assert.deepEqual((JSON.parse(json.out) as { blobs: string[] }).blobs, digests);

    assert.equal((await runCli(["alias", "digest", repo, "pair"])).out.trim(), digests[0]);
    assert.deepEqual((await runCli(["alias", "list", repo])).out.trim().split("\n"), ["pair"]);

    // blob get REPO @ALIAS: the blobs one after the other; digests and aliases may mix.
    const concatenated = await runCli(["blob", "get", repo, "@pair"]);
    assert.equal(concatenated.code, 0, concatenated.stderr);
    assert.ok(concatenated.stdout.equals(Buffer.concat(blobs.map((b) => b.content))));
    const mixed = await runCli(["blob", "get", repo, digests[1] as string, "@pair"]);
    assert.ok(mixed.stdout.equals(Buffer.concat([blobs[1]?.content ?? Buffer.alloc(0), ...blobs.map((b) => b.content)])));
    const file = join(workDir, "cli-alias.bin");
    assert.equal((await runCli(["blob", "get", repo, "@pair", "-o", file])).code, 0);
    assert.ok((await readFile(file)).equals(Buffer.concat(blobs.map((b) => b.content))));

    const sized = await runCli(["blob", "size", repo, "@pair", digests[0] as string]);
    const [one, two] = blobs.map((b) => b.content.length);
    assert.deepEqual(sized.out.trim().split("\n"), [String((one ?? 0) + (two ?? 0)), String(one)]);

    const missing = await runCli(["blob", "get", repo, "@nothing"]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.equal(missing.stdout.length, 0);
    assert.match(missing.stderr, /alias nothing not found in .*dxf\/cli \(quayside alias list/);
    const neither = await runCli(["blob", "get", repo, "pair"]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /"pair" is neither a blob digest \(sha256:\.\.\.\) nor an alias \(@NAME\)/);
    assert.equal((await runCli(["alias", "get", repo, "nothing"])).code, 3);
    const invalid = await runCli(["alias", "set", repo, "pair", "sha256:abc"]);
    assert.equal(invalid.code, 2, invalid.stderr);
    assert.equal(invalid.stderr.split("\n").filter(Boolean).length, 1, "one line");
    // As dxf's set-alias: an argument with a path separator is a file, named by its digest.
    const second = join(workDir, "second-blob.bin");
    await writeFile(second, blobs[1]?.content ?? Buffer.alloc(0));
    const byPath = await runCli(["alias", "set", repo, "by-path", second, digests[0] as string]);
    assert.equal(byPath.code, 0, byPath.stderr);
    // get and delete take several aliases, one after the other, as dxf's get-alias and del-alias.
    const both = await runCli(["alias", "get", repo, "pair", "by-path"]);
    assert.equal(both.code, 0, both.stderr);
    assert.deepEqual(both.out.trim().split("\n"), [...digests, digests[1], digests[0]]);
    const missingFile = await runCli(["alias", "set", repo, "pair", "./layer.tar"]);
    assert.equal(missingFile.code, 2, missingFile.stderr);
    assert.match(missingFile.stderr, /^quayside: cannot read "\.\/layer\.tar": no such file$/m);
    const notADigest = await runCli(["alias", "set", repo, "pair", "layer"]);
    assert.equal(notADigest.code, 2, notADigest.stderr);
    assert.match(notADigest.stderr, /"layer" is not a blob digest; push a file first \(quayside blob put .*dxf\/cli FILE prints its digest\)/);

    const deleted = await runCli(["alias", "delete", repo, "pair", "by-path"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(deleted.out.trim().split("\n"), [...digests, digests[1], digests[0]]);
    assert.match(deleted.stderr, /every tag on it is gone/);
    assert.equal((await runCli(["alias", "list", repo])).out, "");
  });

  test("a multi-arch alias prints one JSON object keyed by platform; --platform picks one", async () => {
    const repo = at("dxf/cli-multi");
    const amd = await pushSome(repo, [300]);
    const arm = await pushSome(repo, [301, 302]);
    const amdSet = await setAlias(repo, "a", amd.map((b) => b.digest), { pool });
    const armSet = await setAlias(repo, "b", arm.map((b) => b.digest), { pool });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.DockerManifestV2, digest: armSet.digest, size: Buffer.byteLength(armSet.manifest), platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        { mediaType: MediaType.DockerManifestV2, digest: amdSet.digest, size: Buffer.byteLength(amdSet.manifest), platform: { os: "linux", architecture: "amd64" } },
      ],
    });
    await setAliasManifest(repo, "both", index, { pool });

    const get = await runCli(["alias", "get", repo, "both"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.out.trim().split("\n").length, 1, "one line");
    assert.deepEqual(JSON.parse(get.out), { "linux/amd64": amd.map((b) => b.digest), "linux/arm64/v8": arm.map((b) => b.digest) });
    assert.ok(get.out.indexOf("linux/amd64") < get.out.indexOf("linux/arm64/v8"), "keys sorted, as dxf prints them");
    const one = await runCli(["alias", "get", repo, "both", "--platform", "linux/arm64/v8"]);
    assert.deepEqual(one.out.trim().split("\n"), arm.map((b) => b.digest));
    assert.deepEqual(JSON.parse((await runCli(["alias", "digest", repo, "both"])).out), { "linux/amd64": amd[0]?.digest, "linux/arm64/v8": arm[0]?.digest });

    const sizes = await runCli(["blob", "size", repo, "@both"]);
    assert.deepEqual(JSON.parse(sizes.out), { "linux/amd64": amd[0]?.content.length, "linux/arm64/v8": arm.reduce((n, b) => n + b.content.length, 0) });

    const noPlatform = await runCli(["blob", "get", repo, "@both"]);
    assert.equal(noPlatform.code, 2, noPlatform.stderr);
    assert.match(noPlatform.stderr, /multi-arch alias: choose a platform \(linux\/arm64\/v8, linux\/amd64\)/);
    const armBytes = await runCli(["--platform", "linux/arm64/v8", "blob", "get", repo, "@both"]);
    assert.ok(armBytes.stdout.equals(Buffer.concat(arm.map((b) => b.content))));

    const deleted = await runCli(["alias", "delete", repo, "both"]);
    assert.deepEqual(JSON.parse(deleted.out), { "linux/amd64": amdSet.digest, "linux/arm64/v8": armSet.digest });
  });
});
