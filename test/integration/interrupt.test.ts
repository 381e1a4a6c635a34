/**
 * Ctrl-C and SIGTERM in the middle of a copy, with the real binary: a blob stalls at a fault
 * proxy in front of the real registry, the signal arrives, and the command says what was
 * interrupted, exits 130 / 143, and leaves no temporary file and no tag.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
let env: TestEnvironment;
let proxy: FaultProxy;
let workDir: string;

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-interrupt-"));
  proxy = await startFaultProxy({ upstream: env.anonymous.url });
});
after(async () => {
  await proxy.close();
  await rm(workDir, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.map(String);
}

/** Run a copy whose first blob GET stalls after a few bytes; signal it once that GET is under way. */
function interruptedCopy(destination: string, signal: "SIGINT" | "SIGTERM"): Promise<{ code: number | null; stderr: string }> {
  const { multi } = env.anonymous.seeded;
  return interrupted(["copy", "--progress", "none", `${proxy.host}/${multi.repository}:${multi.tag}`, destination], signal);
}

/** Run quayside with these arguments while the first blob GET stalls after a few bytes; signal it once that GET is under way. */
async function interrupted(args: readonly string[], signal: "SIGINT" | "SIGTERM"): Promise<{ code: number | null; stderr: string }> {
  proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: { kind: "stall", phase: "body", afterBytes: 16 }, first: 1 }]);
  proxy.reset();
  const child = spawn(process.execPath, [join(root, "bin", "quayside.js"), ...args], {
    env: { PATH: process.env["PATH"], HOME: workDir, DOCKER_CONFIG: join(workDir, "no-docker") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
  // Bounded wait for the stalled GET to be in flight, then a moment for the others to start writing.
  for (let i = 0; i < 100 && !proxy.records().some((r) => r.fault === "stall"); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(proxy.records().some((r) => r.fault === "stall"), "the stalled blob GET never arrived");
  await new Promise((r) => setTimeout(r, 300));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

describe("an interrupted copy", () => {
  test("Ctrl-C into an OCI layout: exit 130, one line saying what is safe, no .partial file, no tag", async () => {
    const dir = join(workDir, "layout");
    const { code, stderr } = await interruptedCopy(`oci:${dir}:v1`, "SIGINT");
    assert.equal(code, 130, stderr);
    assert.match(stderr, /^quayside: interrupted by SIGINT: copy stopped; nothing was tagged, temporary files were removed/m);
    assert.doesNotMatch(stderr, /\n\s+at /);
    assert.deepEqual((await filesUnder(dir)).filter((f) => f.includes(".partial")), []);
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: unknown[] };
    assert.deepEqual(index.manifests, []);
  });

  test("SIGTERM into a docker archive: exit 143, no archive and no temporary file", async () => {
    const dir = join(workDir, "archive");
    const target = join(dir, "image.tar");
    await rm(dir, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
    const { code, stderr } = await interruptedCopy(`docker-archive:${target}:team/app:v1`, "SIGTERM");
    assert.equal(code, 143, stderr);
    assert.match(stderr, /^quayside: interrupted by SIGTERM: copy stopped/m);
    assert.deepEqual(await filesUnder(dir), []);
  });
});

describe("an interrupted copy into a registry", () => {
  // Its own registry: the shared one's catalog is compared whole by other tests.
  let destination: RunningRegistry;
  before(async () => {
    destination = await startRegistry({ mode: "anonymous" });
  });
  after(() => destination.stop());

  test("Ctrl-C: exit 130, every upload session cancelled (or refused by the registry), no tag", async () => {
    const repository = `interrupted/app-${process.pid}`;
    const { code, stderr } = await interruptedCopy(`${destination.host}/${repository}:v1`, "SIGINT");
    assert.equal(code, 130, stderr);
    assert.match(stderr, /^quayside: interrupted by SIGINT: copy stopped/m);
    const stored = join(destination.storageDir, "docker", "registry", "v2", "repositories", repository);
    assert.deepEqual(await filesUnder(join(stored, "_manifests", "tags")), []);
    // distribution keeps an open session as _uploads/<id>/{startedat,data}; a cancelled one is gone.
    // The one exception is the registry's: a session whose PUT was cut mid-body (the stalled blob)
    // holds bytes past the offset in its Location, and distribution answers its DELETE with
    // BLOB_UPLOAD_INVALID ("upload resumed at wrong offset") and keeps it until its upload purge.
    const uploads = join(stored, "_uploads");
    const open = (await filesUnder(uploads)).filter((f) => f.endsWith("startedat")).map((f) => dirname(f));
    const log = await readFile(destination.logFile, "utf8");
    for (const id of open) {
      const bytes = (await stat(join(uploads, id, "data")).catch(() => undefined))?.size ?? 0;
      assert.ok(bytes > 0, `upload session ${id} holds no bytes, yet it was not cancelled\n${stderr}`);
      const refused = log.split("\n").some((line) => line.includes("method=DELETE") && line.includes(id) && line.includes("blob upload invalid"));
      assert.ok(refused, `upload session ${id} was left open without a DELETE\n${stderr}`);
    }
    assert.ok(open.length <= 1, `only the stalled blob's upload may be left; found ${open.length}`);
  });
});

describe("an interrupted download", () => {
  test("Ctrl-C during blob get -o: exit 130, no file and no temporary file", async () => {
    const dir = join(workDir, "download");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
    const layer = env.anonymous.seeded.multi.manifests[0]?.layers[0];
    assert.ok(layer);
    const { code, stderr } = await interrupted(["blob", "get", `${proxy.host}/${env.anonymous.seeded.multi.repository}@${layer.digest}`, "-o", join(dir, "layer.tgz")], "SIGINT");
    assert.equal(code, 130, stderr);
    assert.match(stderr, /^quayside: interrupted by SIGINT: blob get stopped; no partial file was left/m);
    assert.deepEqual(await filesUnder(dir), []);
  });
});
