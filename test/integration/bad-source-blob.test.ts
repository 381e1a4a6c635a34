/**
 * A source that serves a small blob wrong (cut short, a byte flipped, bytes added), through a front
 * in front of the real registry. The copy must reject with a typed error naming the blob and the
 * source, never throw an uncaught exception, and leave nothing half-written at the destination:
 * no temporary file in a layout or beside an archive, no open upload session in a registry.
 * Timing-dependent (the blob may fail before or after the destination reads it): each case runs RUNS times.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { copyImage } from "../../src/copy/copy.js";
import { DigestMismatchError, SizeMismatchError } from "../../src/errors.js";
import { RegistryClient } from "../../src/registry/client.js";
import { DockerArchiveStore } from "../../src/store/docker-archive.js";
import { OciLayoutStore } from "../../src/store/oci-layout.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import type { Store } from "../../src/store/store.js";
import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { watchUncaught } from "../harness/uncaught.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { runCli } from "./helpers.js";

const RUNS = 10;
/** Complete answers served wrong: cut short by a byte, a byte flipped, bytes added. */
type Corruption = "truncate" | "flip" | "extra";
const CORRUPTIONS: readonly Corruption[] = ["truncate", "flip", "extra"];
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let env: TestEnvironment;
let front: FaultProxy;
let target: RunningRegistry;
let work: string;
const clients: RegistryClient[] = [];
const uncaught = watchUncaught();

before(async () => {
  env = await getTestEnvironment();
  [front, target] = await Promise.all([startFaultProxy({ upstream: env.anonymous.url }), startRegistry({ mode: "anonymous" })]);
  work = await mkdtemp(join(tmpdir(), "quayside-bad-blob-"));
  uncaught.start();
});
after(async () => {
  uncaught.stop();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([front?.close(), target?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

const single = () => env.anonymous.seeded.single;
/** The blob served wrong: the first layer of test/single (a few hundred bytes). */
const badBlob = () => single().manifests[0]?.layers[0] ?? assert.fail("test/single has no layer");
const sourceLocation = () => `docker://${front.host}/${single().repository}`;

/** Serve this blob wrong from now on (undefined: serve it right again). */
function corrupt(blob: { digest: string; size: number }, how: Corruption | undefined): void {
  const fault = how === "truncate" ? { kind: how, keep: blob.size - 1 } : how === undefined ? undefined : { kind: how };
  front.setRules(fault === undefined ? [] : [{ method: "GET", path: new RegExp(`/blobs/${blob.digest}$`), fault }]);
}

function client(host: string): RegistryClient {
  const c = new RegistryClient(host, { dockerConfig: false, retry: { retries: 0 } });
  clients.push(c);
  return c;
}

function sourceStore(): RegistryStore {
  return new RegistryStore(client(front.host), single().repository);
}

/** The error names the blob and where it came from, on one line, with the type the corruption calls for. */
function assertSourceError(err: unknown, how: Corruption): void {
  const type = how === "flip" ? DigestMismatchError : SizeMismatchError;
  assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
  assert.ok(err.message.includes(`blob ${badBlob().digest} from ${sourceLocation()}`), err.message);
  assert.ok(!err.message.includes("\n"), err.message);
}

/** Copies with the bad blob served wrong; every run must reject (not throw uncaught) with the source's error. */
async function failingCopies(how: Corruption, destination: (run: number) => Promise<Store>, afterFailure?: (store: Store) => Promise<void>): Promise<void> {
  uncaught.clear();
  corrupt(badBlob(), how);
  try {
    for (let run = 0; run < RUNS; run++) {
      const dst = await destination(run);
      await assert.rejects(copyImage(sourceStore(), single().tag, dst, "copied"), (err: unknown) => {
        assertSourceError(err, how);
        return true;
      });
      await afterFailure?.(dst);
    }
    // An uncaught exception can come a tick after the rejection: give it the chance.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(uncaught.errors, [], `uncaught: ${uncaught.errors.map(String).join("; ")}`);
  } finally {
    corrupt(badBlob(), undefined);
  }
}

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe("a source blob served wrong", () => {
  for (const how of CORRUPTIONS) {
    test(`${how}: into an OCI layout, rejected, no temporary file; the copy completes once the blob is right`, async () => {
      const dir = join(work, `layout-${how}`);
      await failingCopies(how, () => OciLayoutStore.open(dir, { create: true }));
      const files = await filesUnder(dir);
      assert.deepEqual(files.filter((f) => f.includes(".partial")), []);
      assert.ok(!files.includes(`blobs/sha256/${badBlob().digest.slice("sha256:".length)}`));

      const result = await copyImage(sourceStore(), single().tag, await OciLayoutStore.open(dir), "copied");
      assert.equal(result.destination.digest, single().digest);
      assert.deepEqual((await filesUnder(dir)).filter((f) => f.includes(".partial")), []);
    });

    test(`${how}: into a registry, rejected, the upload session cancelled`, async () => {
      const repository = `bad/${how}`;
      const dst = new RegistryStore(client(target.host), repository);
      await failingCopies(how, async () => dst);
      // distribution keeps an open session as _uploads/<id>/{startedat,data}; a cancelled one has neither.
      const uploads = join(target.storageDir, "docker/registry/v2/repositories", repository, "_uploads");
      const left = (await filesUnder(uploads)).filter((f) => ["startedat", "data"].includes(basename(f)));
      assert.deepEqual(left, []);
      assert.equal(await dst.client.blobExists(repository, badBlob().digest), false);
    });

    test(`${how}: into a docker archive, rejected, no archive and no temporary file`, async () => {
      const dir = join(work, `archive-${how}`);
      await mkdir(dir);
      await failingCopies(how, (run) => DockerArchiveStore.create(join(dir, `image-${run}.tar`)), async (store) => {
        // Nothing is left even before abort() (which a caller still owes after a failure).
        assert.deepEqual(await readdir(dir), []);
        await store.abort();
      });
      assert.deepEqual(await readdir(dir), []);
    });
  }

  test("the CLI prints one line, no stack trace, and exits 1 (in process, and bin/quayside.js)", async () => {
    const source = `${front.host}/${single().repository}:${single().tag}`;
    const assertOneLine = (code: number, stderr: string): void => {
      assert.equal(code, 1, stderr);
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0] ?? "", /^quayside: /);
      assert.ok(lines[0]?.includes(`blob ${badBlob().digest} from ${sourceLocation()}`), stderr);
      assert.doesNotMatch(stderr, /^ {4}at /m);
    };
    uncaught.clear();
    for (const how of CORRUPTIONS) {
      corrupt(badBlob(), how);
      try {
        const dir = join(work, `cli-${how}`);
        for (let i = 0; i < RUNS; i++) {
          const result = await runCli(["copy", "--progress", "none", source, `oci:${dir}:copied`]);
          assertOneLine(result.code, result.stderr);
          assert.deepEqual((await filesUnder(dir)).filter((f) => f.includes(".partial")), []);
        }
      } finally {
        corrupt(badBlob(), undefined);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(uncaught.errors, [], `uncaught: ${uncaught.errors.map(String).join("; ")}`);

    // The installed command, where an uncaught exception would print Node's stack trace (a few runs: each starts Node).
    const bin = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolvePromise) => {
        execFile(process.execPath, [join(repoRoot, "bin", "quayside.js"), ...args], { timeout: 30_000, env: { ...process.env, DOCKER_CONFIG: work } }, (err, _stdout, stderr) => {
          resolvePromise({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr });
        });
      });
    corrupt(badBlob(), "flip");
    try {
      const dir = join(work, "cli-bin");
      for (let i = 0; i < 3; i++) {
        const result = await bin(["copy", "--progress", "none", source, `oci:${dir}:copied`]);
        assertOneLine(result.code, result.stderr);
        assert.deepEqual((await filesUnder(dir)).filter((f) => f.includes(".partial")), []);
      }
    } finally {
      corrupt(badBlob(), undefined);
    }
  });
});

describe("temporary files a killed run left", () => {
  const anHourAgo = () => new Date(Date.now() - 3600_000);

  test("an OCI layout: a later copy removes stale ones of ours, keeps fresh ones and other names", async () => {
    const dir = join(work, "stale-layout");
    const blobs = join(dir, "blobs", "sha256");
    await mkdir(blobs, { recursive: true });
    const hex = badBlob().digest.slice("sha256:".length);
    const stale = join(blobs, `.${hex}.0123456789ab.partial`);
    const staleOther = join(blobs, `.${"0".repeat(64)}.ba9876543210.partial`);
    const staleIndex = join(dir, ".index.json.00112233aabb.partial");
    const fresh = join(blobs, `.${hex}.ffffffffffff.partial`);
    const foreign = join(blobs, "notes.partial");
    for (const path of [stale, staleOther, staleIndex, foreign]) {
      await writeFile(path, "");
      await utimes(path, anHourAgo(), anHourAgo());
    }
    // Touched just now: a live writer's (another run's), to be left alone.
    await writeFile(fresh, "");
    const store = await OciLayoutStore.open(dir, { create: true });
    await copyImage(sourceStore(), single().tag, store, "copied");
    const exists = (path: string) => stat(path).then(() => true, () => false);
    assert.deepEqual(await Promise.all([stale, staleOther, staleIndex].map(exists)), [false, false, false]);
    assert.deepEqual(await Promise.all([fresh, foreign].map(exists)), [true, true]);
  });

  test("a docker archive: creating it again removes a stale temporary file of that archive only", async () => {
    const dir = join(work, "stale-archive");
    await mkdir(dir);
    const stale = join(dir, ".image.tar.0123456789ab.partial");
    const otherArchive = join(dir, ".other.tar.0123456789ab.partial");
    for (const path of [stale, otherArchive]) {
      await writeFile(path, "");
      await utimes(path, anHourAgo(), anHourAgo());
    }
    const store = await DockerArchiveStore.create(join(dir, "image.tar"));
    await store.abort();
    assert.deepEqual((await readdir(dir)).sort(), [basename(otherArchive)]);
  });
});
