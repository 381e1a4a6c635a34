/**
 * The README's library example, taken from the README itself (not a copy), run as a user would
 * run it against the real registry: "quayside" resolves to the built package, localhost:5000 to
 * the test registry.
 */
import * as assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { copy, getDigest, isNotFound, listTags } from "../../src/index.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { codeBlocks, REPOSITORY_ROOT, runTsExample } from "../harness/markdown-examples.js";
import { collect } from "./helpers.js";

let env: TestEnvironment;
let workDir: string;

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-readme-"));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The first ```ts block under a heading. */
async function readmeBlock(heading: string): Promise<string> {
  const block = codeBlocks(await readFile(join(REPOSITORY_ROOT, "README.md"), "utf8")).find((b) => b.heading === heading && b.lang === "ts");
  assert.ok(block, `no ts block under ${heading}`);
  return block.code;
}

test("the library example in the README runs against a real registry and does what it says", async () => {
  const { multi } = env.anonymous.seeded;
  // A repository of its own, so tags made here meet no other test.
  const repository = `readme/app-${process.pid}`;
  await copy(`${env.anonymous.host}/${multi.repository}:${multi.tag}`, `${env.anonymous.host}/${repository}:1.0`, { configFiles: false });

  const code = (await readmeBlock("## The library"))
    .replaceAll("localhost:5000/team/app", `${env.anonymous.host}/${repository}`)
    .replaceAll('repository("team/app")', `repository(${JSON.stringify(repository)})`)
    .replaceAll('getManifest("team/app"', `getManifest(${JSON.stringify(repository)}`)
    .replaceAll("localhost:5000", env.anonymous.host);
  const { stdout } = await runTsExample(code, {
    cwd: workDir,
    env: { PATH: process.env["PATH"], HOME: workDir, DOCKER_CONFIG: join(workDir, "docker") },
  });
  const lines = stdout.trimEnd().split("\n");
  const arm64 = multi.manifests.find((m) => m.platform.architecture === "arm64");
  assert.ok(arm64);
  assert.equal(lines[0], `linux/arm64/v8 ${arm64.layers.length} ${arm64.size + arm64.config.size + arm64.layers.reduce((sum, l) => sum + l.size, 0)}`);
  assert.ok(lines.some((l) => l.startsWith("true { copied: ")), stdout);
  // The layout the example wrote is the image, byte for byte.
  assert.equal((await getDigest(`oci:${join(workDir, "app-layout")}:1.0`, { configFiles: false })).digest, multi.digest);
  assert.ok(lines.includes("1.0"), stdout);
  assert.ok(lines.some((l) => l.includes("untagged") && l.includes(":stable")), stdout);
  // untag removed "stable" and kept the image.
  assert.deepEqual(await collect(listTags(`${env.anonymous.host}/${repository}`, { configFiles: false })), ["1.0"]);
  const amd64 = multi.manifests.find((m) => m.platform.architecture === "amd64");
  assert.ok(lines.some((l) => l.startsWith(`${amd64?.digest} linux/amd64`)), stdout);
  assert.ok(lines.includes(repository), stdout);
  assert.ok(lines.includes(`${multi.mediaType === "application/vnd.oci.image.index.v1+json" ? "oci-index" : "docker-list"} ${multi.digest}`), stdout);
  const gone = await getDigest(`${env.anonymous.host}/${repository}:stable`, { configFiles: false }).catch((e: unknown) => e);
  assert.ok(isNotFound(gone));
});
