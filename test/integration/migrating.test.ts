/**
 * Every example of docs/migrating.md, taken from the guide itself (never a second copy), run
 * as a reader would run it against real registries: ```ts blocks as ES modules importing the
 * built package, ```sh blocks under bash with the built `quayside` on PATH (see
 * test/harness/markdown-examples.ts for the format).
 *
 * The guide's placeholders, replaced here:
 * - localhost:5000: a registry of this file's own (the CNCF distribution registry, plain HTTP),
 *   holding before every example team/app:1.0 (an OCI index: linux/amd64, linux/arm64/v8,
 *   linux/arm/v7) and team/tool:1.0 (one Docker schema 2 image, linux/amd64), and no other tag
 *   in those two repositories; it accepts Docker schema 1 pushes (the guide's signature example);
 * - registry.example.com: the shared TLS registry with basic auth ($REGISTRY_USER,
 *   $REGISTRY_PASSWORD; its CA in the file $REGISTRY_CA), holding test/multi:v1;
 * - quay.example.com (and https://quay.example.com): a Quay (the fixture: REST API v1 and /v2/)
 *   whose organization kolla has nova-api (latest, 2025.1), nova-compute (2025.1) and
 *   glance-api (latest); $QUAY_TOKEN may administer it.
 * Each example runs in an empty directory of its own, with its own HOME and Docker config.
 */
import * as assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { copy, listTags, untag } from "../../src/index.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { codeBlocks, expectedLines, missingLines, quaysideBinDir, REPOSITORY_ROOT, runShExample, runTsExample, substitute, type CodeBlock } from "../harness/markdown-examples.js";
import { QuayFixture } from "../harness/quay-fixture.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { collect } from "./helpers.js";

const GUIDE = "docs/migrating.md";
const blocks: CodeBlock[] = codeBlocks(await readFile(join(REPOSITORY_ROOT, GUIDE), "utf8"));
const examples = blocks.filter((b) => b.lang === "ts" || b.lang === "sh");
const options = { configFiles: false } as const;
const QUAY_TOKEN = "kolla-admin";

let env: TestEnvironment;
let registry: RunningRegistry;
let quay: QuayFixture;
let workDir: string;
let binDir: string;

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-guide-"));
  binDir = await quaysideBinDir(workDir);
  registry = await startRegistry({ mode: "anonymous", schema1: {} });
  await seedGuideRegistry();
  quay = await QuayFixture.start({ backend: registry.url, backendPrefix: "quay", users: [{ token: QUAY_TOKEN, name: "admin", grants: { kolla: "admin" } }] });
  const { multi, docker } = env.anonymous.seeded;
  const now = Math.floor(Date.now() / 1000);
  const kolla = [
    { repo: "nova-api", tags: [["latest", "team/tool", docker], ["2025.1", "team/app", multi]] },
    { repo: "nova-compute", tags: [["2025.1", "team/tool", docker]] },
    { repo: "glance-api", tags: [["latest", "team/app", multi]] },
  ] as const;
  for (const { repo, tags } of kolla) {
    quay.addRepository("kolla", { name: repo, public: true });
    for (const [i, [name, source, image]] of tags.entries()) {
      quay.addTag("kolla", repo, { name, digest: image.digest, start: now - 3600 + i, manifestList: image.manifests.length > 1 });
      await quay.placeImage("kolla", repo, source, image.digest);
    }
  }
});

after(async () => {
  await Promise.all([quay?.close(), registry?.stop()]);
  await rm(workDir, { recursive: true, force: true });
});

/**
 * team/app and team/tool as every example expects them: tag 1.0 and no other (an earlier
 * example may have deleted the image, or tagged it again).
 */
async function seedGuideRegistry(): Promise<void> {
  const { multi, docker } = env.anonymous.seeded;
  for (const [repository, image] of [["team/app", multi], ["team/tool", docker]] as const) {
    await copy(`${env.anonymous.host}/${image.repository}:${image.tag}`, `${registry.host}/${repository}:1.0`, options);
    for (const tag of await collect(listTags(`${registry.host}/${repository}`, options))) {
      if (tag !== "1.0") await untag(`${registry.host}/${repository}:${tag}`, options);
    }
  }
}

function placeholders(): Record<string, string> {
  return {
    "localhost:5000": registry.host,
    "registry.example.com": env.basic.host,
    "https://quay.example.com": quay.url,
    "quay.example.com": quay.host,
  };
}

test(`${GUIDE} has examples in both forms, and each one asserts something`, () => {
  assert.ok(examples.filter((b) => b.lang === "ts").length >= 5, "too few ts examples");
  assert.ok(examples.filter((b) => b.lang === "sh").length >= 5, "too few sh examples");
  for (const block of examples) {
    const where = `${GUIDE}:${block.line}`;
    if (block.lang === "sh") assert.ok(expectedLines(block.code).length > 0, `${where}: a sh example needs a "# prints:" line`);
    else assert.match(block.code, /\bassert[.(]/, `${where}: a ts example needs an assertion`);
  }
});

for (const block of examples) {
  test(`${GUIDE}:${block.line} ${block.heading.replace(/^#+\s*/, "")} (${block.lang})`, async () => {
    await seedGuideRegistry();
    const cwd = await mkdtemp(join(workDir, "example-"));
    const where = {
      cwd,
      env: {
        PATH: `${binDir}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
        HOME: cwd,
        DOCKER_CONFIG: join(cwd, ".docker"),
        XDG_RUNTIME_DIR: join(cwd, "run"),
        REGISTRY_CA: env.basic.caFile,
        REGISTRY_USER: env.basic.username,
        REGISTRY_PASSWORD: env.basic.password,
        QUAY_TOKEN,
      },
    };
    const code = substitute(block.code, placeholders());
    if (block.lang === "ts") {
      await runTsExample(code, where);
    } else {
      const { stdout } = await runShExample(code, where);
      const missing = missingLines(stdout, expectedLines(code));
      assert.deepEqual(missing, [], `${GUIDE}:${block.line}: expected lines not printed (in order); stdout was:\n${stdout}`);
    }
  });
}
