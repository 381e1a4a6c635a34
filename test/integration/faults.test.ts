/**
 * Copies between two real registries through fault proxies (test/harness/fault-proxy.ts) on either
 * side: dropped and stalled connections, 5xx answers, bodies cut short or with a byte flipped. Each scenario runs a bounded number of times and every outcome is checked:
 * the copy completes with the exact digest (verified at the destination, directly, not through the
 * proxy, with every blob present), or it fails with a clean typed error of one line, with nothing
 * tagged wrongly at the destination; never an uncaught exception.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { checkImage } from "../../src/copy/check.js";
import { copyImage, type CopyResult } from "../../src/copy/copy.js";
import { digestOf } from "../../src/digest/digest.js";
import { isNotFound, QuaysideError, RegistryError } from "../../src/errors.js";
import type { RetryNotice } from "../../src/http/transport.js";
import { MediaType } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";
import { RegistryStore } from "../../src/store/registry-store.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../harness/fault-proxy.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";

let env: TestEnvironment;
let source: RunningRegistry;
let destination: RunningRegistry;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const clients: RegistryClient[] = [];
const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => void uncaught.push(err);

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
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
});

after(async () => {
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUncaught);
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([srcProxy?.close(), dstProxy?.close()]);
  await Promise.all([source?.stop(), destination?.stop()]);
});

let copies = 0;

/**
 * One copy through both proxies into a repository of its own; checks whichever way it ends.
 * Returns the error when it failed (typed, one line, nothing tagged wrongly).
 */
async function copyThroughFaults(image: Image, notices: RetryNotice[] = []): Promise<QuaysideError | undefined> {
  const target = `faults/run${++copies}`;
  const from = new RegistryStore(client(srcProxy.host, notices), image.repository);
  const to = new RegistryStore(client(dstProxy.host, notices), target);
  let result: CopyResult | undefined;
  let failure: unknown;
  try {
    result = await copyImage(from, image.tag, to, "copied", { signal: AbortSignal.timeout(60_000) });
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

const BLOB = /\/blobs\/sha256:/;

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

  test("a source that always answers 503: a clean error about the source, not the destination", async () => {
    faults(srcProxy, [{ method: "GET", path: BLOB, fault: { kind: "status", status: 503 } }]);
    const failure = await copyThroughFaults(big);
    assert.ok(failure instanceof RegistryError, String(failure));
    assert.equal(failure.status, 503);
    assert.ok(failure.message.includes(srcProxy.host) && !failure.message.includes(dstProxy.host), failure.message);
    faults(srcProxy, []);
  });
});

test("no uncaught exception in any of it", () => {
  assert.deepEqual(uncaught, []);
});
