/**
 * Copies between two real registries through fault proxies (test/harness/fault-proxy.ts) on either
 * side: 5xx at a rate, 429 with Retry-After, dropped and stalled connections, bodies cut short or
 * with a byte flipped. Each scenario runs a bounded number of times and every outcome is checked:
 * the copy completes with the exact digest (verified at the destination, directly, not through the
 * proxy, with every blob present), or it fails with a clean typed error of one line, with nothing
 * tagged wrongly at the destination; never an uncaught exception.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkImage } from "../../src/copy/check.js";
import { copyImage, type CopyResult } from "../../src/copy/copy.js";
import { digestOf } from "../../src/digest/digest.js";
import { isNotFound, NetworkError, QuaysideError, RegistryError } from "../../src/errors.js";
import type { RetryNotice } from "../../src/http/transport.js";
import { MediaType } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../harness/fault-proxy.js";
import { watchUncaught } from "../harness/uncaught.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { runCli } from "./helpers.js";

let env: TestEnvironment;
let source: RunningRegistry;
let destination: RunningRegistry;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const clients: RegistryClient[] = [];
const uncaught = watchUncaught();

/** Short waits: a stall is noticed in about a second, retries wait tens of milliseconds (Retry-After: as told). */
const FAST = { timeoutMs: 1_000, retry: { retries: 3, baseDelayMs: 20, maxDelayMs: 1_500 } };

interface Image {
  repository: string;
  tag: string;
  digest: string;
  /** The digest of its largest blob. */
  layer: string;
}
let multi: Image;
let big: Image;

function client(host: string, notices?: RetryNotice[]): RegistryClient {
  const c = new RegistryClient(host, { dockerConfig: false, ...FAST, ...(notices ? { onRetry: (n: RetryNotice) => notices.push(n) } : {}) });
  clients.push(c);
  return c;
}

/** An image with one 3 MB layer, so that faults can strike part way into a blob. */
async function pushBigImage(c: RegistryClient, repository: string): Promise<Image> {
  const layer = randomBytes(3 * 1024 * 1024);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [digestOf(layer)] } }));
  await c.pushBlob(repository, layer);
  await c.pushBlob(repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: digestOf(layer), size: layer.length }],
    }),
  );
  await c.putManifest(repository, "v1", manifest);
  return { repository, tag: "v1", digest: digestOf(manifest), layer: digestOf(layer) };
}

before(async () => {
  env = await getTestEnvironment();
  [source, destination] = await Promise.all([startRegistry({ mode: "anonymous" }), startRegistry({ mode: "anonymous" })]);
  [srcProxy, dstProxy] = await Promise.all([startFaultProxy({ upstream: source.url }), startFaultProxy({ upstream: destination.url })]);
  // The shared registry stays as seeded (other tests list its catalog): the images are copied to one of ours.
  const seeded = env.anonymous.seeded.multi;
  await copyImage(new RegistryStore(client(env.anonymous.host), seeded.repository), "v1", new RegistryStore(client(source.host), "faults/multi"), "v1");
  multi = { repository: "faults/multi", tag: "v1", digest: seeded.digest, layer: "" };
  big = await pushBigImage(client(source.host), "faults/big");
  uncaught.start();
});

after(async () => {
  uncaught.stop();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([srcProxy?.close(), dstProxy?.close()]);
  await Promise.all([source?.stop(), destination?.stop()]);
});

let copies = 0;

/**
 * One copy through both proxies into a repository of its own; checks whichever way it ends.
 * Returns the error when it failed (typed, one line, nothing tagged wrongly).
 */
async function copyThroughFaults(image: Image, notices: RetryNotice[] = [], jobs?: number): Promise<QuaysideError | undefined> {
  const target = `faults/run${++copies}`;
  const from = new RegistryStore(client(srcProxy.host, notices), image.repository);
  const to = new RegistryStore(client(dstProxy.host, notices), target);
  let result: CopyResult | undefined;
  let failure: unknown;
  try {
    result = await copyImage(from, image.tag, to, "copied", { signal: AbortSignal.timeout(60_000), jobs });
  } catch (err) {
    failure = err;
  }
  const direct = client(destination.host);
  if (result !== undefined) {
    assert.equal(result.destination.digest, image.digest);
    assert.equal((await direct.headManifest(target, "copied")).digest, image.digest);
    assert.deepEqual((await checkImage(new RegistryStore(direct, target), "copied")).missing, []);
    return undefined;
  }
  assert.ok(failure instanceof QuaysideError, `not a typed error: ${String(failure)}`);
  assert.ok(failure.message.length <= 500 && !failure.message.includes("\n"), failure.message);
  // Nothing tagged wrongly: the tag is absent (the root is tagged last, only when all is there).
  const tagged = await direct.headManifest(target, "copied").then(
    (d) => d.digest,
    (err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)),
  );
  assert.equal(tagged, undefined, "tagged after a failed copy");
  return failure;
}

function faults(proxy: FaultProxy, rules: FaultRule[], seed?: number): void {
  proxy.setRules(rules, seed);
  proxy.reset();
}

const UPLOAD_START = /\/blobs\/uploads\/$/;
const UPLOAD_SESSION = /\/blobs\/uploads\/[^/?]+/;
const BLOB = /\/blobs\/sha256:/;

describe("faults at the destination are retried", () => {
  test("5xx on 20% of requests: 6 of 6 copies complete with the exact digest", async () => {
    for (let run = 0; run < 6; run++) {
      faults(dstProxy, [{ path: /^\/v2\/faults\//, rate: 0.2, fault: { kind: "status", status: run % 2 === 0 ? 503 : 500 } }], 1000 + run);
      // One blob at a time: the requests, so the seeded faults, come in the same order every run.
      // (A request that meets 5xx on all of its 4 attempts, 0.2^4, still fails the copy, cleanly.)
      const failure = await copyThroughFaults(multi, [], 1);
      assert.equal(failure, undefined, `run ${run}: ${failure?.message}`);
      assert.ok(dstProxy.faults() > 0, `run ${run}: no fault was injected`);
    }
    faults(dstProxy, []);
  });

  test("429 with Retry-After: 1 on the first upload POST: 3 of 3 complete, after the wait", async () => {
    for (let run = 0; run < 3; run++) {
      faults(dstProxy, [{ method: "POST", path: UPLOAD_START, first: 1, fault: { kind: "status", status: 429, retryAfter: 1 } }]);
      const notices: RetryNotice[] = [];
      const started = Date.now();
      assert.equal(await copyThroughFaults(multi, notices), undefined);
      assert.ok(Date.now() - started >= 1_000, "Retry-After honoured");
      assert.equal(notices.filter((n) => n.status === 429).length, 1);
    }
    faults(dstProxy, []);
  });

  test("the blob PUT answered 503, or its connection dropped part way: a new session, the bytes sent again, the old one cancelled", async () => {
    for (const fault of [{ kind: "status", status: 503 }, { kind: "reset", afterRequestBytes: 64 * 1024 }] as const) {
      for (let run = 0; run < 2; run++) {
        // The 3 MB layer's PUT: the config's may come first, and is shorter than the drop point.
        faults(dstProxy, [{ method: "PUT", path: new RegExp(`digest=${encodeURIComponent(big.layer)}`), first: 1, fault }]);
        assert.equal(await copyThroughFaults(big), undefined, `${fault.kind} run ${run}`);
        const records = dstProxy.records();
        const failedPut = records.findIndex((r) => r.fault !== undefined);
        assert.ok(failedPut >= 0 && records[failedPut]?.status !== 201, JSON.stringify(records[failedPut]));
        const session = (records[failedPut]?.path ?? "").split("?")[0] ?? "";
        assert.ok(
          records.some((r, i) => i > failedPut && r.method === "DELETE" && r.path.split("?")[0] === session),
          `the abandoned session ${session} was not cancelled: ${JSON.stringify(records)}`,
        );
        assert.equal(records.filter((r) => r.method === "PUT" && UPLOAD_SESSION.test(r.path) && r.status === 201).length, 2, "both blobs stored once");
      }
    }
    faults(dstProxy, []);
  });

  test("a stalled PUT (the registry stops answering): noticed after the timeout, said, and retried", async () => {
    faults(dstProxy, [{ method: "PUT", path: new RegExp(`digest=${encodeURIComponent(big.layer)}`), first: 1, fault: { kind: "stall", phase: "headers" } }]);
    const notices: RetryNotice[] = [];
    assert.equal(await copyThroughFaults(big, notices), undefined);
    assert.ok(
      notices.some((n) => n.reason === "stalled"),
      notices.map((n) => n.message).join("\n"),
    );
    faults(dstProxy, []);
  });
});

test("a chunked upload whose second PATCH is answered 503 (Retry-After: 0): resumed from the server's Range", async () => {
  faults(dstProxy, [{ method: "PATCH", path: UPLOAD_SESSION, skip: 1, first: 1, fault: { kind: "status", status: 503, retryAfter: 0 } }]);
  const notices: RetryNotice[] = [];
  const blob = randomBytes(300 * 1024);
  const result = await client(dstProxy.host, notices).pushBlob("faults/chunked", blob, { chunkSize: 100 * 1024 });
  assert.equal(result.descriptor.digest, digestOf(blob));
  assert.equal((await client(destination.host).headBlob("faults/chunked", digestOf(blob))).size, blob.length);
  assert.equal(dstProxy.faults(), 1);
  assert.match(notices.map((n) => n.message).join("\n"), /^PATCH .* failed at byte 102400 \(HTTP 503\), resuming from the server's Range; retrying \(2 of 4\)$/m);
  faults(dstProxy, []);
});

describe("faults at the source", () => {
  test("a blob read dropped or stalled part way, or answered 503: resumed, the copy completes", async () => {
    const cases: Array<[FaultRule, Image]> = [
      [{ method: "GET", path: new RegExp(big.layer), first: 1, fault: { kind: "reset", afterResponseBytes: 100_000 } }, big],
      [{ method: "GET", path: new RegExp(big.layer), first: 1, fault: { kind: "stall", phase: "body", afterBytes: 100_000 } }, big],
      [{ method: "GET", path: BLOB, first: 2, fault: { kind: "status", status: 503 } }, multi],
    ];
    for (const [rule, image] of cases) {
      for (let run = 0; run < 2; run++) {
        faults(srcProxy, [rule]);
        assert.equal(await copyThroughFaults(image), undefined, `${rule.fault.kind} run ${run}`);
        assert.ok(srcProxy.faults() > 0);
      }
    }
    faults(srcProxy, []);
  });

  test("a blob served with a byte flipped or cut short: a typed integrity error naming the blob, nothing tagged", async () => {
    for (const fault of [{ kind: "flip" }, { kind: "truncate" }] as const) {
      for (let run = 0; run < 2; run++) {
        faults(srcProxy, [{ method: "GET", path: new RegExp(big.layer), fault }]);
        const failure = await copyThroughFaults(big);
        assert.ok(failure !== undefined, `${fault.kind}: copied`);
        assert.equal(failure.category, "integrity", failure.message);
      }
    }
    faults(srcProxy, []);
  });

  test("a source whose blob reads always drop part way: an error about the source's blob, never the destination's PUT nor a bare socket error", async () => {
    for (let run = 0; run < 2; run++) {
      faults(srcProxy, [{ method: "GET", path: new RegExp(big.layer), fault: { kind: "reset", afterResponseBytes: 100_000 } }]);
      const failure = await copyThroughFaults(big);
      assert.ok(failure instanceof NetworkError, String(failure));
      assert.match(failure.message, new RegExp(`^GET ${srcProxy.url}/v2/faults/big/blobs/${big.layer}: connection dropped at byte \\d+ after 3 resumes \\(`));
      assert.ok(!failure.message.includes(dstProxy.host), failure.message);
    }
    faults(srcProxy, []);
  });

  test("a source that always answers 503: a clean error about the source, not the destination", async () => {
    faults(srcProxy, [{ method: "GET", path: BLOB, fault: { kind: "status", status: 503 } }]);
    const failure = await copyThroughFaults(big);
    assert.ok(failure instanceof RegistryError, String(failure));
    assert.equal(failure.status, 503);
    assert.ok(failure.message.includes(srcProxy.host) && !failure.message.includes(dstProxy.host), failure.message);
    faults(srcProxy, []);
  });
});

describe("the CLI", () => {
  test("says each retry on one line, and the copy completes", async () => {
    faults(dstProxy, [{ method: "POST", path: UPLOAD_START, first: 1, fault: { kind: "status", status: 429, retryAfter: 1 } }]);
    const result = await runCli(["--timeout", "5", "copy", `${srcProxy.host}/${multi.repository}:v1`, `${dstProxy.host}/faults/cli:v1`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`^quayside: POST ${dstProxy.url}/v2/faults/cli/blobs/uploads/ answered HTTP 429; retrying in 1\\.0 s \\(2 of 4\\)$`, "m"));
    assert.equal((await client(destination.host).headManifest("faults/cli", "v1")).digest, multi.digest);
    faults(dstProxy, []);
  });

  test("blob put FILE: the file is read again when the registry fails the upload", async () => {
    const dir = await mkdtemp(join(tmpdir(), "quayside-faults-"));
    try {
      const file = join(dir, "blob.bin");
      const data = randomBytes(200 * 1024);
      await writeFile(file, data);
      faults(dstProxy, [{ method: "PUT", path: UPLOAD_SESSION, first: 1, fault: { kind: "status", status: 503 } }]);
      const result = await runCli(["--json", "blob", "put", `${dstProxy.host}/faults/file`, file]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /^quayside: upload http:\/\/.*\/v2\/faults\/file\/blobs\/sha256:[0-9a-f]{64} failed \(HTTP 503\); retrying \(2 of 4\)$/m);
      assert.equal((await client(destination.host).headBlob("faults/file", digestOf(data))).size, data.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
      faults(dstProxy, []);
    }
  });

  test("no uncaught exception in any of it", () => {
    assert.deepEqual(uncaught.errors, []);
  });
});
