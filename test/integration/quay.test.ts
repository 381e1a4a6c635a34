/**
 * Quay end to end: the Quay fixture (REST API + a /v2/ token front) in front of the real
 * registry, so discovery, bulk inspect and the mirror run against real registry behaviour; the
 * destination is the real registry behind a counting front, or an OCI layout skopeo reads.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { check, ClientPool, discoverQuay, getDigest, inspect, inspectQuay, mirror, type InspectSummary } from "../../src/index.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startPagingProxy, type PagingProxy } from "../harness/pager.js";
import { QuayFixture } from "../harness/quay-fixture.js";
import { skopeo } from "../harness/skopeo.js";
import { runCli } from "./helpers.js";

let env: TestEnvironment;
let quay: QuayFixture;
let front: PagingProxy;
let workDir: string;
const NOW = Math.floor(Date.now() / 1000);
const options = { configFiles: false, retry: { retries: 1, baseDelayMs: 10 } } as const;
const cliEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: "/nonexistent/quayside-test", REGISTRY_AUTH_FILE: "/nonexistent/quayside-test/auth.json", ...extra });

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-quay-"));
  quay = await QuayFixture.start({
    backend: env.anonymous.url,
    users: [
      { token: "kolla-admin", name: "admin", grants: { kolla: "admin" } },
      { token: "kolla-reader", name: "reader", grants: { kolla: "read" } },
    ],
  });
  front = await startPagingProxy({ upstream: env.anonymous.url });
  const { single, multi, hello, docker } = env.anonymous.seeded;
  const images = [
    { repo: "nova-api", tags: [["latest", single], ["2025.1", multi]] },
    { repo: "nova-compute", tags: [["latest", hello], ["2025.1", single]] },
    { repo: "glance-api", tags: [["latest", docker]] },
    { repo: "secret", tags: [["latest", single]], private: true },
  ] as const;
  for (const { repo, tags, ...rest } of images) {
    quay.addRepository("kolla", { name: repo, public: !("private" in rest) });
    for (const [i, [tag, image]] of tags.entries()) {
      quay.addTag("kolla", repo, { name: tag, digest: image.digest, start: NOW - 1000 + i, manifestList: image.manifests.length > 1 });
      await quay.placeImage("kolla", repo, image.repository, image.digest);
    }
  }
  quay.addRepository("kolla", { name: "nova-old", public: true, tags: [{ name: "2023.1", digest: single.digest, start: NOW - 900 * 86_400, end: NOW - 800 * 86_400 }] });
  await quay.placeImage("kolla", "nova-old", single.repository, single.digest);
});
after(async () => {
  await Promise.all([quay.close(), front.close()]);
  await rm(workDir, { recursive: true, force: true });
});

const prefix = (): string => `mirror-${randomBytes(4).toString("hex")}`;

describe("discovery and the quay commands", () => {
  test("quay discover: one reference per line, sorted; --json with the digest and times; shards split it", async () => {
    const out = await runCli(["quay", "discover", `quay://${quay.host}/kolla/nova-*:*`], { env: cliEnv() });
    assert.equal(out.code, 0, out.stderr);
    const all = [`${quay.host}/kolla/nova-api:2025.1`, `${quay.host}/kolla/nova-api:latest`, `${quay.host}/kolla/nova-compute:2025.1`, `${quay.host}/kolla/nova-compute:latest`];
    assert.equal(out.out, `${all.join("\n")}\n`);
    const json = await runCli(["--json", "quay", "discover", "-j", "1", `quay://${quay.host}/kolla/nova-api:2025.1`], { env: cliEnv() });
    const [image] = JSON.parse(json.out) as { reference: string; digest: string; started: string }[];
    assert.equal(image?.digest, env.anonymous.seeded.multi.digest);
    assert.equal(image?.started, new Date((NOW - 999) * 1000).toISOString());
    const shards = await Promise.all(["1/2", "2/2"].map((s) => runCli(["quay", "discover", "--shard", s, `quay://${quay.host}/kolla/nova-*:*`], { env: cliEnv() })));
    const lines = shards.flatMap((s) => s.out.split("\n").filter((l) => l !== ""));
    assert.deepEqual([...lines].sort(), all);
    assert.equal((await runCli(["quay", "discover", "--shard", "3/2", `quay://${quay.host}/kolla`], { env: cliEnv() })).code, 2);
  });

  test("quay repos: private ones only with a token (flag or QUAY_TOKEN); an empty listing is exit 0, stdout empty, a note on stderr", async () => {
    const anonymous = await runCli(["quay", "repos", `${quay.host}/kolla`], { env: cliEnv() });
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.deepEqual(anonymous.out.split("\n").filter(Boolean), ["kolla/nova-api", "kolla/nova-compute", "kolla/glance-api", "kolla/nova-old"]);
    const withEnv = await runCli(["quay", "repos", `${quay.host}/kolla`], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.ok(withEnv.out.includes("kolla/secret"));
    const withFlag = await runCli(["--quay-url", quay.url, "--quay-token", "kolla-reader", "quay", "repos", "kolla"], { env: cliEnv() });
    assert.equal(withFlag.out, withEnv.out);
    const empty = await runCli(["quay", "repos", `${quay.host}/private-org`], { env: cliEnv() });
    assert.equal(empty.code, 0);
    assert.equal(empty.out, "");
    assert.match(empty.stderr, /private organization needs a token \(--quay-token or QUAY_TOKEN\)/);
    const emptyDiscovery = await runCli(["quay", "discover", `quay://${quay.host}/private-org`], { env: cliEnv() });
    assert.equal(emptyDiscovery.code, 0);
    assert.equal(emptyDiscovery.out, "");
  });

  test("--quay-token-file FILE or - (stdin): the token without putting it on the command line; the help says why", async () => {
    const file = join(workDir, "quay-token");
    await writeFile(file, "kolla-reader\n", { mode: 0o600 });
    const fromFile = await runCli(["--quay-token-file", file, "quay", "repos", `${quay.host}/kolla`], { env: cliEnv() });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.ok(fromFile.out.split("\n").includes("kolla/secret"), fromFile.out);
    const fromStdin = await runCli(["--quay-token-file", "-", "quay", "repos", `${quay.host}/kolla`], { env: cliEnv(), stdin: "kolla-reader\n" });
    assert.equal(fromStdin.out, fromFile.out);
    // The file beats QUAY_TOKEN; the flag and the file together are a usage error, as is an unreadable or empty file.
    const beatsEnv = await runCli(["--quay-token-file", file, "quay", "repos", `${quay.host}/kolla`], { env: cliEnv({ QUAY_TOKEN: "nobody" }) });
    assert.equal(beatsEnv.out, fromFile.out);
    const both = await runCli(["--quay-token-file", file, "--quay-token", "kolla-reader", "quay", "repos", `${quay.host}/kolla`], { env: cliEnv() });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--quay-token and --quay-token-file exclude each other/);
    const missing = await runCli(["--quay-token-file", join(workDir, "nope"), "quay", "repos", `${quay.host}/kolla`], { env: cliEnv() });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--quay-token-file .*nope: cannot read it \(ENOENT\)/);
    const empty = await runCli(["--quay-token-file", "-", "quay", "repos", `${quay.host}/kolla`], { env: cliEnv(), stdin: "" });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /expected one token, found nothing/);
    const help = await runCli(["--help"], { env: cliEnv() });
    assert.match(help.out.replace(/\s+/g, " "), /--quay-token <token> a Quay token on the command line: visible to other users of the machine \(ps\); prefer QUAY_TOKEN or --quay-token-file/);
  });

  test("quay tags: active names; --all adds expired ones with digest, start and end", async () => {
    const active = await runCli(["quay", "tags", `${quay.host}/kolla/nova-old`], { env: cliEnv() });
    assert.equal(active.code, 0, active.stderr);
    assert.equal(active.out, "");
    const all = await runCli(["quay", "tags", "--all", `${quay.host}/kolla/nova-old`], { env: cliEnv() });
    const columns = all.out.trim().split(/\s+/);
    assert.deepEqual(columns, ["2023.1", env.anonymous.seeded.single.digest, new Date((NOW - 900 * 86_400) * 1000).toISOString(), new Date((NOW - 800 * 86_400) * 1000).toISOString()]);
  });

  test("tags of a Quay repository over /v2/: the token Quay wants for every request, relative Links followed across pages", async () => {
    const names = Array.from({ length: 150 }, (_, i) => `v${String(i).padStart(3, "0")}`);
    quay.addRepository("kolla", { name: "many-tags", public: true, tags: names.map((name, i) => ({ name, digest: env.anonymous.seeded.single.digest, start: NOW - 2000 + i })) });
    quay.resetRequests();
    const out = await runCli(["tags", `${quay.host}/kolla/many-tags`], { env: cliEnv() });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.out.split("\n").filter(Boolean), names);
    const pages = quay.requestsTo("v2").filter((r) => r.path.includes("/tags/list") && r.status === 200);
    assert.equal(pages.length, 2);
    assert.match(pages[1]?.path ?? "", /last=v099/);
  });

  test("quay tags of a private repository without a token: exit 4, saying what to pass", async () => {
    const out = await runCli(["quay", "tags", `${quay.host}/kolla/secret`], { env: cliEnv() });
    assert.equal(out.code, 4, out.stderr);
    assert.equal(out.out, "");
    assert.match(out.stderr, /kolla\/secret is private or does not exist .*--quay-token or QUAY_TOKEN/);
    const reader = await runCli(["quay", "tags", `${quay.host}/kolla/secret`], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.equal(reader.code, 0, reader.stderr);
    assert.equal(reader.out, "latest\n");
  });

  test("delete-tag, set-tag, delete-repo: a tag is required, 404 is a note, 401/403 say what to pass (exit 4)", async () => {
    quay.addRepository("kolla", { name: "scratch", public: true, tags: [{ name: "a", digest: env.anonymous.seeded.single.digest, start: NOW - 5 }] });
    const noTag = await runCli(["quay", "delete-tag", `${quay.host}/kolla/scratch`], { env: cliEnv() });
    assert.equal(noTag.code, 2, noTag.stderr);
    assert.match(noTag.stderr, /tag .*is missing/);
    const anonymous = await runCli(["quay", "delete-tag", `${quay.host}/kolla/scratch:a`], { env: cliEnv() });
    assert.equal(anonymous.code, 4);
    assert.match(anonymous.stderr, /needs a token with write permission on kolla\/scratch: pass .*--quay-token or QUAY_TOKEN/);
    const reader = await runCli(["quay", "delete-tag", `${quay.host}/kolla/scratch:a`], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.equal(reader.code, 4);
    assert.match(reader.stderr, /no write permission on kolla\/scratch/);
    const admin = cliEnv({ QUAY_TOKEN: "kolla-admin" });
    assert.equal((await runCli(["quay", "delete-tag", `${quay.host}/kolla/scratch:a`], { env: admin })).code, 0);
    const again = await runCli(["quay", "delete-tag", `${quay.host}/kolla/scratch:a`], { env: admin });
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already gone/);
    const set = await runCli(["quay", "set-tag", `${quay.host}/kolla/scratch:b`, env.anonymous.seeded.single.digest], { env: admin });
    assert.equal(set.code, 0, set.stderr);
    assert.equal(quay.activeTag("kolla", "scratch", "b")?.digest, env.anonymous.seeded.single.digest);
    assert.equal((await runCli(["quay", "delete-repo", `${quay.host}/kolla/scratch`], { env: admin })).code, 0);
    assert.equal(quay.hasRepository("kolla", "scratch"), false);
  });
});

describe("bulk inspect", () => {
  test("inspect quay://: a section per image; --json one array; the summaries are the registry's", async () => {
    const text = await runCli(["inspect", `quay://${quay.host}/kolla/nova-*`], { env: cliEnv() });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.out, new RegExp(`Reference: +${quay.host}/kolla/nova-api:latest\\n`));
    assert.match(text.out, /\n\nReference: /);
    assert.match(text.stderr, /inspected .*nova-compute:latest/);
    const json = await runCli(["--json", "inspect", `quay://${quay.host}/kolla/nova-*`], { env: cliEnv() });
    const summaries = JSON.parse(json.out) as InspectSummary[];
    assert.deepEqual(summaries.map((s) => [s.reference, s.digest]), [
      [`${quay.host}/kolla/nova-api:latest`, env.anonymous.seeded.single.digest],
      [`${quay.host}/kolla/nova-compute:latest`, env.anonymous.seeded.hello.digest],
    ]);
  });

  test("an image /v2/ refuses (401 for unknown or unreadable) is reported once as not found, or not authorized", async () => {
    const { entries } = await inspectQuay(`quay://${quay.host}/kolla/secret`, { ...options, quayToken: "kolla-reader" });
    assert.equal(entries.length, 1);
    assert.match(entries[0]?.error ?? "", new RegExp(`^${quay.host}/kolla/secret:latest: not found, or not authorized \\(Quay answers 401 for both\\)`));
    const cli = await runCli(["inspect", `quay://${quay.host}/kolla/secret`], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.match(/not found, or not authorized/g)?.length, 1, cli.stderr);
    assert.doesNotMatch(cli.stderr, /HTTP 401 \(HTTP 401\)/);
  });
});

describe("mirror", () => {
  test("dry run: the plan, one HEAD per image at the destination, nothing written, nothing asked of Quay's /v2/", async () => {
    const dest = `${front.host}/${prefix()}`;
    front.reset();
    quay.resetRequests();
    const out = await runCli(["copy", "--dry-run", `quay://${quay.host}/kolla/nova-*:*`, dest], { env: cliEnv() });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.out, /to copy +.*nova-api:2025\.1 +.*\/nova-api:2025\.1/);
    assert.match(out.out, /plan: 4 to copy, 0 up to date \(dry run: nothing written\)/);
    assert.deepEqual([...new Set(front.stats().requests.map((r) => r.method))], ["HEAD"]);
    assert.equal(front.stats().count, 4);
    assert.deepEqual(quay.requestsTo("v2"), []);
    const layout = join(workDir, "dry-layout");
    assert.equal((await runCli(["copy", "--dry-run", `quay://${quay.host}/kolla/nova-*`, `oci:${layout}`], { env: cliEnv() })).code, 0);
    await assert.rejects(access(layout));
  });

  test("--shard on copy (dry run) and inspect: the parts are disjoint and make up the whole", async () => {
    const uri = `quay://${quay.host}/kolla/nova-*:*`;
    const dest = `${front.host}/${prefix()}`;
    const planned = async (...extra: string[]): Promise<string[]> => {
      const out = await runCli(["--json", "copy", "--dry-run", ...extra, uri, dest], { env: cliEnv() });
      assert.equal(out.code, 0, out.stderr);
      return (JSON.parse(out.out) as { images: { reference: string }[] }).images.map((i) => i.reference);
    };
    const whole = await planned();
    const parts = [await planned("--shard", "1/2"), await planned("--shard", "2/2")];
    assert.equal(whole.length, 4);
    assert.ok(parts.every((p) => p.length > 0 && p.length < 4), JSON.stringify(parts));
    assert.deepEqual([...parts.flat()].sort(), [...whole].sort());
    const inspected = await Promise.all(["1/2", "2/2"].map(async (shard) => {
      const out = await runCli(["--json", "inspect", "--shard", shard, uri], { env: cliEnv() });
      assert.equal(out.code, 0, out.stderr);
      return (JSON.parse(out.out) as InspectSummary[]).map((s) => s.reference);
    }));
    assert.deepEqual(inspected, parts);
  });

  test("pulls of discovered images use the registry credentials of the Quay host (a robot's config.json)", async () => {
    const authFile = join(workDir, "quay-auth.json");
    await writeFile(authFile, JSON.stringify({ auths: { [quay.host]: { auth: Buffer.from("reader:kolla-reader").toString("base64") } } }));
    const dest = `${front.host}/${prefix()}`;
    quay.resetRequests();
    const out = await runCli(["--json", "--authfile", authFile, "copy", `quay://${quay.host}/kolla/secret`, dest], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.out) as { images: { status: string; destination: string; digest: string }[] };
    assert.deepEqual(report.images.map((i) => i.status), ["copied"]);
    assert.equal((await getDigest(`${dest}/secret:latest`, options)).digest, env.anonymous.seeded.single.digest);
    assert.ok(quay.requestsTo("auth").some((r) => r.auth === "Basic"));
  });

  test("mirror, then the same mirror again: the re-run asks Quay's /v2/ nothing and the destination one HEAD per image", async () => {
    const dest = `${front.host}/${prefix()}`;
    const uri = `quay://${quay.host}/kolla/nova-*:*`;
    const first = await runCli(["--json", "copy", "--image-jobs", "2", uri, dest], { env: cliEnv() });
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.out) as { images: { reference: string; destination: string; status: string; digest: string; bytes: number }[]; summary: { copied: number; upToDate: number; failed: number } };
    assert.deepEqual(report.summary, { ...report.summary, copied: 4, upToDate: 0, failed: 0 });
    for (const image of report.images) {
      assert.equal(image.status, "copied");
      assert.equal((await getDigest(image.destination, options)).digest, image.digest);
    }
    assert.equal(report.images[0]?.destination, `${dest}/nova-api:2025.1`);

    quay.resetRequests();
    front.reset();
    const again = await runCli(["copy", uri, dest], { env: cliEnv() });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.out, /^0 copied, 4 up to date, 0 failed/);
    assert.deepEqual(quay.requestsTo("v2"), []);
    assert.deepEqual(quay.requestsTo("auth"), []);
    assert.deepEqual(front.stats().requests.map((r) => r.method), ["HEAD", "HEAD", "HEAD", "HEAD"]);

    // A tag moved at Quay: only that image is copied again.
    const { hello } = env.anonymous.seeded;
    await quay.placeImage("kolla", "nova-api", hello.repository, hello.digest);
    const old = quay.activeTag("kolla", "nova-api", "latest");
    if (old) old.end = NOW;
    quay.addTag("kolla", "nova-api", { name: "latest", digest: hello.digest, start: NOW });
    const moved = await mirror(`quay://${quay.host}/kolla/nova-api`, dest, { ...options });
    assert.deepEqual(moved.images.map((i) => i.status), ["copied"]);
  });

  test("blobs an earlier image put at the destination are mounted from its repository, never read from Quay twice", async () => {
    const dest = `${front.host}/${prefix()}`;
    quay.resetRequests();
    front.reset();
    // nova-api:latest and nova-compute:2025.1 are the same image, in two repositories.
    const report = await mirror(`quay://${quay.host}/kolla/nova-*:*`, dest, { ...options, imageJobs: 1 });
    assert.equal(report.summary.copied, 4);
    const blobReads = quay.requestsTo("v2").filter((r) => r.method === "GET" && /\/blobs\/sha256:/.test(r.path)).map((r) => r.path.replace(/^.*\/blobs\//, ""));
    assert.ok(blobReads.length > 0);
    assert.equal(blobReads.length, new Set(blobReads).size, `a blob read twice from Quay: ${blobReads.join(" ")}`);
    const mounts = front.stats().requests.filter((r) => r.method === "POST" && r.path.includes("mount=") && r.status === 201);
    assert.ok(report.summary.blobs.mounted > 0);
    assert.equal(mounts.length, report.summary.blobs.mounted);
    for (const image of report.images) assert.equal((await check(image.destination, options)).complete, true, image.destination);
  });

  test("--progress json: a line per image and per blob, and an overall total, on stderr; stdout only the report", async () => {
    const dest = `${front.host}/${prefix()}`;
    const out = await runCli(["--json", "copy", "--progress", "json", `quay://${quay.host}/kolla/nova-*:*`, dest], { env: cliEnv() });
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.out) as { images: { reference: string; status: string }[]; summary: { copied: number } };
    assert.equal(report.summary.copied, 4);
    type Line = { event: string; id: string; label: string; total: number; bytes?: number };
    const lines = out.stderr.trim().split("\n").map((line) => JSON.parse(line) as Line);
    const events = (id: string): Line[] => lines.filter((l) => l.id === id);
    let planned = 0;
    for (const { reference } of report.images) {
      const [start, done, ...more] = events(reference);
      assert.deepEqual([start?.event, start?.label, done?.event, more.length], ["start", reference.slice(quay.host.length + 1), "copied", 0], reference);
      assert.equal(done?.bytes, start?.total);
      planned += start?.total ?? 0;
      const blobs = lines.filter((l) => l.id.startsWith(`${reference} sha256:`));
      assert.ok(blobs.length >= 4, `${reference}: ${blobs.length} blob lines`);
      for (const blob of blobs.filter((l) => l.event !== "start")) assert.match(blob.event, /^(copied|skipped|mounted)$/);
    }
    const total = events("total");
    assert.deepEqual(total.map((l) => l.event), ["start", "done"]);
    assert.equal(total[1]?.total, planned);
    assert.equal(total[1]?.bytes, planned);
    // --progress none: nothing on stderr for a mirror that goes well.
    const quiet = await runCli(["copy", "--progress", "none", `quay://${quay.host}/kolla/nova-api`, `${front.host}/${prefix()}`], { env: cliEnv() });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, "");
    assert.match(quiet.out, /^1 copied, 0 up to date, 0 failed/);
  });

  test("a template destination, and one failing image that does not stop the others (exit 1, named once)", async () => {
    const name = prefix();
    const dest = `${front.host}/${name}/{org}-{repo}:{tag}`;
    const out = await runCli(["--json", "copy", `quay://${quay.host}/kolla`, dest], { env: cliEnv({ QUAY_TOKEN: "kolla-reader" }) });
    assert.equal(out.code, 1, out.stderr);
    const report = JSON.parse(out.out) as { images: { reference: string; destination: string; status: string; error?: string }[]; summary: { copied: number; failed: number } };
    const byRepo = Object.fromEntries(report.images.map((i) => [i.reference.split("/").pop(), i]));
    assert.equal(byRepo["secret:latest"]?.status, "failed");
    assert.match(byRepo["secret:latest"]?.error ?? "", /not found, or not authorized/);
    assert.equal(byRepo["nova-api:latest"]?.destination, `${front.host}/${name}/kolla-nova-api:latest`);
    assert.equal(report.summary.copied, 3);
    assert.equal(report.summary.failed, 1);
    assert.equal(out.stderr.match(/not found, or not authorized/g)?.length, 1, out.stderr);
    assert.match(out.stderr, /1 of 4 images failed/);
  });

  test("into one OCI layout, images named ORG/REPO:TAG, blobs shared; skopeo reads it", async () => {
    const layout = join(workDir, "layout");
    const report = await mirror(`quay://${quay.host}/kolla/nova-*:*`, `oci:${layout}`, { ...options });
    assert.deepEqual(report.images.map((i) => i.status), ["copied", "copied", "copied", "copied"]);
    const nova = report.images.find((i) => i.reference.endsWith("/nova-api:2025.1"));
    assert.equal(nova?.destination, `oci:${layout}:kolla/nova-api:2025.1`);
    const raw = await skopeo(["inspect", "--raw", `oci:${layout}:kolla/nova-api:2025.1`]);
    assert.equal(JSON.parse(raw).mediaType, env.anonymous.seeded.multi.mediaType);
    const digest = (await skopeo(["inspect", "--format", "{{.Digest}}", `oci:${layout}:kolla/nova-compute:2025.1`])).trim();
    assert.equal(digest, env.anonymous.seeded.single.digest);
    // A re-run into the layout finds every image there and reads nothing from Quay.
    quay.resetRequests();
    const again = await mirror(`quay://${quay.host}/kolla/nova-*:*`, `oci:${layout}`, { ...options });
    assert.equal(again.summary.upToDate, 4);
    assert.deepEqual(quay.requestsTo("v2"), []);
  });

  test("nothing matched: exit 0, nothing written", async () => {
    const out = await runCli(["copy", `quay://${quay.host}/kolla/zzz-*`, `${front.host}/${prefix()}`], { env: cliEnv() });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.out, /^0 copied, 0 up to date, 0 failed/);
    const found = await discoverQuay(`quay://${quay.host}/kolla/zzz-*`, options);
    assert.deepEqual(found.images, []);
  });
});

describe("429s and --rate at Quay's /v2/ as at its API", () => {
  test("a mirror's pulls back off Quay's 429s (no Retry-After) beyond `retries`, then fail that image with a clear error", async () => {
    const dest = `${front.host}/${prefix()}`;
    const uri = `quay://${quay.host}/kolla/nova-compute`;
    // Two 429s on the manifest and three on a blob: more than the one retry `options` allows.
    quay.resetRequests();
    quay.failNext(429, 2, /^\/v2\/kolla\/nova-compute\/manifests\//);
    quay.failNext(429, 3, /^\/v2\/kolla\/nova-compute\/blobs\//);
    try {
      const report = await mirror(uri, dest, { ...options });
      assert.deepEqual(report.images.map((i) => [i.status, i.error]), [["copied", undefined]]);
      assert.equal(quay.requestsTo("v2").filter((r) => r.status === 429).length, 5);
      assert.equal((await getDigest(`${dest}/nova-compute:latest`, options)).digest, env.anonymous.seeded.hello.digest);

      // Past the budget: that image fails, saying what happened and what to do.
      quay.clearFaults();
      quay.failNext(429, 10_000, /^\/v2\/kolla\/nova-compute\/manifests\//);
      const started = Date.now();
      const failed = await mirror(uri, `${front.host}/${prefix()}`, { ...options, retry: { ...options.retry, rateLimitBudgetMs: 300 } });
      assert.ok(Date.now() - started >= 300);
      assert.equal(failed.images[0]?.status, "failed");
      assert.match(failed.images[0]?.error ?? "", new RegExp(`^${quay.host}/kolla/nova-compute:latest: too many requests: ${quay.host} kept answering 429 to pull ${quay.host}/kolla/nova-compute after 0.3 s of backing off; fewer jobs`));
    } finally {
      quay.clearFaults();
    }
  });

  test("--rate is one limit per host, shared by the REST client and the /v2/ client of that Quay host", async () => {
    const rate = 20;
    const pool = new ClientPool({ ...options, rate });
    quay.resetRequests();
    try {
      // The API and /v2/ of one host at the same time, through one pool.
      await Promise.all([
        discoverQuay(`quay://${quay.host}/kolla:*`, { pool }),
        inspect(`${quay.host}/kolla/nova-api:2025.1`, { pool }),
        getDigest(`${quay.host}/kolla/glance-api:latest`, { pool }),
      ]);
    } finally {
      await pool.close();
    }
    const times = quay.requests.map((r) => r.time).sort((a, b) => a - b);
    const areas = new Set(quay.requests.map((r) => r.area));
    assert.ok(areas.has("api") && areas.has("v2") && areas.has("auth"), [...areas].join());
    assert.ok(times.length >= 10, `${times.length} requests`);
    // A slot may be taken late (a busy machine), never early: N requests span at least (N-1)/rate,
    // less what the first one was late. Two limits of their own would fit them in about half that.
    const span = (times.at(-1) as number) - (times[0] as number);
    assert.ok(span >= 0.8 * ((times.length - 1) * 1000) / rate, `${times.length} requests in ${span} ms at --rate ${rate}`);
  });
});
