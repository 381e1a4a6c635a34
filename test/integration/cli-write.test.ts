/** The CLI write commands against real registries: copy, tag, untag, delete, check, blob put/mount/delete, login/logout. */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { digestOf } from "../../src/digest/digest.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { skopeo, skopeoDigest } from "../harness/skopeo.js";
import { runCli } from "./helpers.js";

let env: TestEnvironment;
let target: RunningRegistry;
let workDir: string;

before(async () => {
  env = await getTestEnvironment();
  target = await startRegistry({ mode: "anonymous" });
  workDir = await mkdtemp(join(tmpdir(), "quayside-cli-write-"));
});
after(async () => {
  await target?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const at = (path: string): string => `${target.host}/${path}`;

describe("copy", () => {
  test("registry to registry: whole index, digests equal, JSON summary and JSON progress lines", async () => {
    const multi = env.anonymous.seeded.multi;
    const result = await runCli(["--json", "copy", multi.reference, at("cli/multi:v1"), "--progress", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.out) as { destination: { digest: string }; blobs: { copied: number }; indexRewritten: boolean };
    assert.equal(summary.destination.digest, multi.digest);
    assert.equal(summary.indexRewritten, false);
    assert.ok(summary.blobs.copied > 0);
    assert.equal(await skopeoDigest({ host: target.host, url: target.url }, "cli/multi:v1"), multi.digest);
    const events = result.stderr.trim().split("\n").map((l) => JSON.parse(l) as { event: string; id: string });
    assert.ok(events.some((e) => e.event === "start" && e.id === "total"));
    assert.equal(events.filter((e) => e.event === "copied").length, summary.blobs.copied);
  });

  test("a subset of platforms says the digest changed; one platform gives the image itself", async () => {
    const multi = env.anonymous.seeded.multi;
    const two = await runCli(["--platform", "linux/amd64,linux/arm/v7", "copy", multi.reference, at("cli/subset:two"), "--progress", "none"]);
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.out, /digest differs/);
    const one = await runCli(["--json", "--platform", "linux/arm64", "copy", multi.reference, at("cli/subset:one"), "--progress", "none"]);
    const summary = JSON.parse(one.out) as { destination: { digest: string } };
    assert.equal(summary.destination.digest, multi.manifests.find((m) => m.platform.architecture === "arm64")?.digest);
    const conflict = await runCli(["--platform", "linux/amd64", "copy", "--all-platforms", multi.reference, at("cli/subset:x")]);
    assert.equal(conflict.code, 2);
  });

  test("copy from token auth with credentials, and a missing source exits 3", async () => {
    const admin = env.token.users.admin;
    const ok = await runCli(["-u", admin.username, "--password-stdin", "copy", env.token.seeded.single.reference, at("cli/from-token:v1"), "--progress", "none"], { stdin: admin.password });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.out, new RegExp(env.token.seeded.single.digest));
    const missing = await runCli(["copy", `${env.anonymous.host}/test/single:nope`, at("cli/none:v1"), "--progress", "none"]);
    assert.equal(missing.code, 3);
  });

  test("--src-authfile / --dest-authfile: two accounts of one registry, each side with its own", async () => {
    const registry = await startRegistry({ mode: "token" });
    try {
      const users = registry.tokenServer?.users ?? [];
      const admin = users.find((u) => u.role === "admin");
      const reader = users.find((u) => u.role === "reader");
      assert.ok(admin && reader);
      const authFile = async (name: string, user: { username: string; password: string }): Promise<string> => {
        const file = join(workDir, `${name}.json`);
        await writeFile(file, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString("base64") } } }));
        return file;
      };
      const [adminFile, readerFile] = await Promise.all([authFile("admin", admin), authFile("reader", reader)]);
      const single = env.anonymous.seeded.single;
      const into = (path: string): string => `${registry.host}/${path}`;
      // Anonymous source, the destination's account from its file (no Docker config at all otherwise).
      const seeded = await runCli(["copy", single.reference, into("acct/src:v1"), "--dest-authfile", adminFile, "--progress", "none"]);
      assert.equal(seeded.code, 0, seeded.stderr);
      // The read-only account reads, the admin account writes, in one registry.
      const copied = await runCli(["--json", "copy", into("acct/src:v1"), into("acct/dst:v1"), "--src-authfile", readerFile, "--dest-authfile", adminFile, "--progress", "none"]);
      assert.equal(copied.code, 0, copied.stderr);
      assert.equal((JSON.parse(copied.out) as { destination: { digest: string } }).destination.digest, single.digest);
      // Swapped, the reader is the one writing: refused (exit 4), so each side did use its own file.
      const swapped = await runCli(["copy", into("acct/src:v1"), into("acct/other:v1"), "--src-authfile", adminFile, "--dest-authfile", readerFile, "--progress", "none"]);
      assert.equal(swapped.code, 4, swapped.stderr);
      const missingFile = await runCli(["copy", into("acct/src:v1"), into("acct/x:v1"), "--src-authfile", join(workDir, "absent.json")]);
      assert.equal(missingFile.code, 2);
      assert.match(missingFile.stderr, /absent\.json/);
    } finally {
      await registry.stop();
    }
  });
});

describe("copy through OCI layouts and docker archives", () => {
  test("registry -> OCI layout -> registry keeps every digest; skopeo reads the layout", async () => {
    const multi = env.anonymous.seeded.multi;
    const layout = join(workDir, "layout");
    const out = await runCli(["copy", multi.reference, `oci:${layout}:multi`, "--progress", "none"]);
    assert.equal(out.code, 0, out.stderr);
    const raw = await skopeo(["inspect", "--raw", `oci:${layout}:multi`]);
    assert.equal(digestOf(Buffer.from(raw)), multi.digest);
    const back = await runCli(["--json", "copy", `oci:${layout}:multi`, at("from-oci/multi:v1"), "--progress", "none"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(back.out) as { destination: { digest: string } }).destination.digest, multi.digest);
    assert.equal(await skopeoDigest({ host: target.host, url: target.url }, "from-oci/multi:v1"), multi.digest);
  });

  test("quayside reads a layout skopeo wrote", async () => {
    const layout = join(workDir, "skopeo-layout");
    const single = env.anonymous.seeded.single;
    await skopeo(["copy", "--src-tls-verify=false", `docker://${single.reference}`, `oci:${layout}:s`]);
    const out = await runCli(["copy", `oci:${layout}:s`, at("from-skopeo/single:v1"), "--progress", "none"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await runCli(["digest", at("from-skopeo/single:v1")])).out.trim(), single.digest);
  });

  test("registry -> docker archive -> registry; skopeo loads the archive; a failed copy leaves no file", async () => {
    const docker = env.anonymous.seeded.docker;
    const archive = join(workDir, "image.tar");
    const out = await runCli(["copy", docker.reference, `docker-archive:${archive}:app:1`, "--progress", "none"]);
    assert.equal(out.code, 0, out.stderr);
    const inspected = JSON.parse(await skopeo(["inspect", `docker-archive:${archive}`])) as { RepoTags?: string[]; Layers: string[] };
    assert.equal(inspected.Layers.length, docker.manifests[0]?.layers.length);
    const back = await runCli(["copy", `docker-archive:${archive}:app:1`, at("from-archive/app:1"), "--progress", "none"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await runCli(["digest", at("from-archive/app:1")])).out.trim(), docker.digest, "our archive keeps the exact blobs");

    const index = join(workDir, "multi.tar");
    const multi = await runCli(["--json", "copy", env.anonymous.seeded.multi.reference, `docker-archive:${index}:multi:1`, "--progress", "none"]);
    assert.equal(multi.code, 0, multi.stderr);
    assert.match(multi.stderr, /one platform per image/);
    const host = env.anonymous.seeded.multi.manifests.find((m) => m.platform.architecture === (process.arch === "arm64" ? "arm64" : "amd64"));
    assert.equal((JSON.parse(multi.out) as { destination: { digest: string } }).destination.digest, host?.digest);

    const failed = join(workDir, "failed.tar");
    const missing = await runCli(["copy", `${env.anonymous.host}/test/single:nope`, `docker-archive:${failed}:x:1`, "--progress", "none"]);
    assert.equal(missing.code, 3);
    assert.deepEqual((await readdir(workDir)).filter((f) => f.includes("failed")), []);
  });
});

describe("tags and deletes", () => {
  test("tag, untag one tag, delete by tag, check", async () => {
    const single = env.anonymous.seeded.single;
    assert.equal((await runCli(["copy", single.reference, at("cli/tags:a"), "--progress", "none"])).code, 0);
    const tagged = await runCli(["tag", at("cli/tags:a"), "b"]);
    assert.equal(tagged.code, 0, tagged.stderr);
    assert.equal((await runCli(["tag", at("cli/tags:a"), "c"])).code, 0);
    assert.deepEqual((await runCli(["tags", at("cli/tags")])).out.trim().split("\n").sort(), ["a", "b", "c"]);

    const untagged = await runCli(["untag", at("cli/tags:b")]);
    assert.equal(untagged.code, 0, untagged.stderr);
    assert.deepEqual((await runCli(["tags", at("cli/tags")])).out.trim().split("\n").sort(), ["a", "c"]);
    assert.equal((await runCli(["digest", at("cli/tags:a")])).out.trim(), single.digest);

    const check = await runCli(["check", at("cli/tags:a")]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.out, /complete/);

    const deleted = await runCli(["delete", at("cli/tags:a")]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.out, /every other tag/);
    assert.equal((await runCli(["digest", at("cli/tags:c")])).code, 3, "the other tag went with the manifest");
    assert.equal((await runCli(["untag", at("cli/tags:a")])).code, 3);
  });

  test("delete --layers also deletes the config and layer blobs, and says how many", async () => {
    const single = env.anonymous.seeded.single;
    const image = single.manifests[0];
    assert.ok(image);
    assert.equal((await runCli(["copy", single.reference, at("cli/delete-layers:a"), "--progress", "none"])).code, 0);
    const deleted = await runCli(["--json", "delete", "--layers", at("cli/delete-layers:a")]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const report = JSON.parse(deleted.out) as { deleted: string; blobs: string[]; manifests: string[] };
    assert.equal(report.deleted, single.digest);
    const referenced = [image.config.digest, ...image.layers.map((l) => l.digest)].sort();
    assert.deepEqual([...report.blobs].sort(), referenced);
    for (const digest of referenced) assert.equal((await runCli(["blob", "size", at(`cli/delete-layers@${digest}`)])).code, 3, `${digest} is gone`);
    // The source repository keeps its blobs.
    assert.equal((await runCli(["check", single.reference])).code, 0);
  });

  test("tag into another repository carries the blobs along", async () => {
    const single = env.anonymous.seeded.single;
    assert.equal((await runCli(["copy", single.reference, at("cli/retag:a"), "--progress", "none"])).code, 0);
    const other = await runCli(["tag", at("cli/retag:a"), at("cli/retag-elsewhere:z")]);
    assert.equal(other.code, 0, other.stderr);
    assert.match((await runCli(["check", at("cli/retag-elsewhere:z")])).out, /complete/);
  });

  test("check on an incomplete image exits 3 and lists what is missing", async () => {
    const single = env.anonymous.seeded.single;
    assert.equal((await runCli(["copy", single.reference, at("cli/broken:a"), "--progress", "none"])).code, 0);
    const layer = single.manifests[0]?.layers[0];
    assert.ok(layer);
    assert.equal((await runCli(["blob", "delete", at(`cli/broken@${layer.digest}`)])).code, 0);
    const check = await runCli(["check", at("cli/broken:a")]);
    assert.equal(check.code, 3);
    assert.match(check.out, new RegExp(`missing ${layer.digest}`));
  });
});

describe("blobs", () => {
  test("put prints the digest, mount moves no bytes, delete removes", async () => {
    const file = join(workDir, "blob.bin");
    const content = randomBytes(70_000);
    await writeFile(file, content);
    const put = await runCli(["blob", "put", at("cli/blobs"), file]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.out.trim(), digestOf(content));
    const again = await runCli(["--json", "blob", "put", at("cli/blobs"), file]);
    assert.equal((JSON.parse(again.out) as { outcome: string }).outcome, "skipped");

    const mount = await runCli(["blob", "mount", at("cli/blobs-2"), "cli/blobs", digestOf(content)]);
    assert.equal(mount.code, 0, mount.stderr);
    const got = join(workDir, "back.bin");
    assert.equal((await runCli(["blob", "get", at(`cli/blobs-2@${digestOf(content)}`), "-o", got])).code, 0);
    assert.ok((await readFile(got)).equals(content));

    const declined = await runCli(["blob", "mount", at("cli/blobs-3"), "cli/nothing-here", digestOf(content)]);
    assert.equal(declined.code, 3);
    assert.equal((await runCli(["blob", "delete", at(`cli/blobs@${digestOf(content)}`)])).code, 0);
    assert.equal((await runCli(["blob", "size", at(`cli/blobs@${digestOf(content)}`)])).code, 3);
  });
});

describe("login and logout", () => {
  test("login checks the credentials, stores them 0600, and later commands use them", async () => {
    const dir = await mkdtemp(join(workDir, "docker-"));
    const cfg = { DOCKER_CONFIG: dir };
    const wrong = await runCli(["-u", env.basic.username, "--password-stdin", "--ca-file", env.basic.caFile, "login", env.basic.host], { stdin: "wrong", env: cfg });
    assert.equal(wrong.code, 4);
    await assert.rejects(stat(join(dir, "config.json")), "a failed login writes nothing");

    const ok = await runCli(["-u", env.basic.username, "--password-stdin", "--ca-file", env.basic.caFile, "login", env.basic.host], { stdin: env.basic.password, env: cfg });
    assert.equal(ok.code, 0, ok.stderr);
    const file = join(dir, "config.json");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(file, "utf8")) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[env.basic.host]?.auth ?? "", "base64").toString(), `${env.basic.username}:${env.basic.password}`);

    const digest = await runCli(["--ca-file", env.basic.caFile, "digest", `${env.basic.host}/test/single:v1`], { env: cfg });
    assert.equal(digest.out.trim(), env.basic.seeded.single.digest, digest.stderr);

    const token = env.token.users.reader;
    assert.equal((await runCli(["-u", token.username, "--password-stdin", "login", env.token.host], { stdin: token.password, env: cfg })).code, 0);
    const both = JSON.parse(await readFile(file, "utf8")) as { auths: Record<string, unknown> };
    assert.deepEqual(Object.keys(both.auths).sort(), [env.basic.host, env.token.host].sort());

    const out = await runCli(["logout", env.basic.host], { env: cfg });
    assert.equal(out.code, 0);
    const after = JSON.parse(await readFile(file, "utf8")) as { auths: Record<string, unknown> };
    assert.deepEqual(Object.keys(after.auths), [env.token.host]);
    assert.equal((await runCli(["--ca-file", env.basic.caFile, "digest", `${env.basic.host}/test/single:v1`], { env: cfg })).code, 4);
  });
});
