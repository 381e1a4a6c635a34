/**
 * Quay: discovery over a large organization, and a mirror and its re-run, against the Quay
 * fixture of the test harness (REST API + /v2/ token front) over the real registry.
 *
 * 1. Discovery of 1,000 repositories (one tag each) with 20 ms added to every API call: wall
 *    time and requests for -j 1 and the default, against (pages + repositories / jobs) x latency.
 * 2. A mirror of 20 discovered images into a second registry, then the same mirror again:
 *    requests to the source (Quay's /v2/ and its token endpoint) and to the destination, and
 *    wall time, beside what a user does today: a loop of `skopeo copy` over the same list.
 *    Goal (enforced): the re-run costs 0 source requests and one HEAD per image at the destination.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoverQuay, mirror } from "../src/index.js";
import { seedImages, writeSeedLayout, type SeededImage } from "../test/harness/images.js";
import { startPagingProxy, type PagingProxy } from "../test/harness/pager.js";
import { QuayFixture } from "../test/harness/quay-fixture.js";
import { startRegistry, type RunningRegistry } from "../test/harness/registry.js";
import { skopeo } from "../test/harness/skopeo.js";
import { goalsOk, logGoals, type BenchOptions, type BenchOutcome, type Benchmark, type Goal } from "./lib/benchmark.js";
import { machine, writeResults } from "./lib/results.js";
import { formatMarkdownTable, formatTable, type Column } from "./lib/table.js";
import { nowMs, round1, withTimeout } from "./lib/timing.js";

const NAME = "quay";
const REPOSITORIES = 1000;
const LATENCY_MS = 20;
const PAGE = 100;
const DEFAULT_JOBS = 8;
const MIRRORED = 20;
const STEP_TIMEOUT_MS = 5 * 60_000;
const options = { configFiles: false } as const;

interface Row {
  what: string;
  ms: number;
  source: number;
  destination: number;
  note: string;
  /** Source requests by kind (mirror rows). */
  breakdown?: string;
}

export const quay: Benchmark = {
  name: NAME,
  description: "Quay discovery of 1,000 repositories (20 ms per API call) and a 20-image mirror + re-run, vs a skopeo copy loop",
  run: runQuay,
};

async function runQuay(bench: BenchOptions): Promise<BenchOutcome> {
  const goals: Goal[] = [];
  const discovery = await benchDiscovery(bench, goals);
  const mirrorRows = await benchMirror(bench, goals);
  const columns: Column[] = [{ header: "run" }, { header: "ms", align: "right" }, { header: "source requests", align: "right" }, { header: "destination requests", align: "right" }, { header: "note" }];
  const rows = [...discovery, ...mirrorRows].map((r) => [r.what, String(round1(r.ms)), String(r.source), r.destination < 0 ? "-" : String(r.destination), r.note]);
  bench.log(formatTable(columns, rows));
  if (bench.markdown) bench.log(formatMarkdownTable(columns, rows));
  logGoals(goals, bench.log);
  const resultsFile = await writeResults(NAME, { machine: machine(), date: new Date().toISOString(), rows: [...discovery, ...mirrorRows], goals });
  return { ok: goalsOk(goals), resultsFile };
}

async function benchDiscovery(bench: BenchOptions, goals: Goal[]): Promise<Row[]> {
  const fixture = await QuayFixture.start({ latencyMs: LATENCY_MS });
  try {
    for (let i = 0; i < REPOSITORIES; i++) {
      fixture.addRepository("bench", { name: `r${String(i).padStart(4, "0")}`, public: true, tags: [{ name: "latest", digest: `sha256:${String(i).padStart(64, "0")}`, start: 1_700_000_000 + i }] });
    }
    const pages = Math.ceil(REPOSITORIES / PAGE);
    const rows: Row[] = [];
    for (const jobs of [1, DEFAULT_JOBS]) {
      fixture.resetRequests();
      const started = nowMs();
      const found = await withTimeout(discoverQuay(`quay://${fixture.host}/bench`, { ...options, discoverJobs: jobs }), STEP_TIMEOUT_MS, `discovery -j ${jobs}`);
      const ms = nowMs() - started;
      const ideal = (pages + REPOSITORIES / jobs) * LATENCY_MS;
      const requests = fixture.requestsTo("api").length;
      rows.push({ what: `discover -j ${jobs}`, ms, source: requests, destination: -1, note: `${found.images.length} images; ideal ${round1(ideal)} ms (${round1(ms / ideal)}x)` });
      goals.push({ goal: `discover -j ${jobs}: one request per page and per repository`, met: requests === pages + REPOSITORIES && found.images.length === REPOSITORIES, detail: `${requests} requests, ${found.images.length} images`, enforced: true });
      if (jobs === DEFAULT_JOBS) goals.push({ goal: "discover (default jobs) within 1.5x of (pages + repositories / jobs) x latency", met: ms <= 1.5 * ideal, detail: `${round1(ms)} ms vs ${round1(ideal)} ms`, enforced: false });
      bench.log(`discover -j ${jobs}: ${round1(ms)} ms, ${requests} requests`);
    }
    return rows;
  } finally {
    await fixture.close();
  }
}

async function benchMirror(bench: BenchOptions, goals: Goal[]): Promise<Row[]> {
  const layoutDir = await mkdtemp(join(tmpdir(), "quayside-bench-quay-"));
  const registries: RunningRegistry[] = [];
  let fixture: QuayFixture | undefined;
  let front: PagingProxy | undefined;
  try {
    const [layout, source, destination] = await Promise.all([writeSeedLayout(layoutDir), startRegistry({ mode: "anonymous" }), startRegistry({ mode: "anonymous" })]);
    registries.push(source, destination);
    const seed = await seedImages(source, { layout, creds: null, full: true });
    fixture = await QuayFixture.start({ backend: source.url });
    front = await startPagingProxy({ upstream: destination.url });
    const images: SeededImage[] = [seed.single, seed.docker, seed.multi, seed.hello];
    for (let i = 0; i < MIRRORED; i++) {
      const image = images[i % images.length] as SeededImage;
      const repo = `app${String(i).padStart(2, "0")}`;
      fixture.addRepository("bench", { name: repo, public: true, tags: [{ name: "latest", digest: image.digest, start: 1_700_000_000 + i }] });
      await fixture.placeImage("bench", repo, image.repository, image.digest);
    }
    const uri = `quay://${fixture.host}/bench`;
    const sourceRequests = (q: QuayFixture): number => q.requestsTo("v2").length + q.requestsTo("auth").length;
    // Where the source requests went: tokens, 401 challenges (an unauthenticated first try or
    // a /v2/ ping), manifests and blobs read, anything else.
    const breakdown = (q: QuayFixture): string => {
      const v2 = q.requestsTo("v2");
      const challenges = v2.filter((r) => r.status === 401).length;
      const served = v2.filter((r) => r.status !== 401);
      const manifests = served.filter((r) => r.path.includes("/manifests/")).length;
      const blobs = served.filter((r) => r.path.includes("/blobs/")).length;
      const other = served.length - manifests - blobs;
      return `source: ${q.requestsTo("auth").length} tokens, ${challenges} challenges, ${manifests} manifests, ${blobs} blobs${other > 0 ? `, ${other} other` : ""}`;
    };
    const rows: Row[] = [];
    const run = async (what: string, work: () => Promise<unknown>): Promise<Row> => {
      fixture?.resetRequests();
      front?.reset();
      const started = nowMs();
      await withTimeout(work(), STEP_TIMEOUT_MS, what);
      const row = { what, ms: nowMs() - started, source: sourceRequests(fixture as QuayFixture), destination: (front as PagingProxy).stats().count, note: "", breakdown: breakdown(fixture as QuayFixture) };
      bench.log(`${what}: ${round1(row.ms)} ms, ${row.source} source requests (${row.breakdown}), ${row.destination} destination requests`);
      rows.push(row);
      return row;
    };

    const dest = `${front.host}/quayside`;
    const first = await run("quayside mirror (library)", async () => {
      const report = await mirror(uri, dest, options);
      if (report.summary.copied !== MIRRORED) throw new Error(`copied ${report.summary.copied} of ${MIRRORED}`);
    });
    first.note = `${MIRRORED} images copied; ${first.breakdown}`;
    // Blobs an earlier image put at the destination are mounted there, not read from Quay again.
    const blobReads = fixture.requestsTo("v2").filter((r) => r.status !== 401 && r.path.includes("/blobs/")).map((r) => r.path);
    goals.push({ goal: "first mirror: no blob read twice from the source", met: new Set(blobReads).size === blobReads.length, detail: `${blobReads.length} blob reads, ${new Set(blobReads).size} distinct`, enforced: true });
    const again = await run("quayside mirror, re-run", async () => {
      const report = await mirror(uri, dest, options);
      if (report.summary.upToDate !== MIRRORED) throw new Error(`${report.summary.upToDate} of ${MIRRORED} up to date`);
    });
    again.note = "nothing changed";
    goals.push({ goal: "re-run: 0 requests to the source", met: again.source === 0, detail: `${again.source}`, enforced: true });
    goals.push({ goal: "re-run: one HEAD per image at the destination", met: again.destination === MIRRORED, detail: `${again.destination} requests for ${MIRRORED} images`, enforced: true });

    // What a user does today: discover the list somehow, then skopeo copy each image.
    const references = (await discoverQuay(uri, options)).images.map((i) => i.reference);
    const loop = async (): Promise<void> => {
      for (const reference of references) {
        const name = reference.slice(reference.indexOf("/") + 1).replace(/^bench\//, "");
        await skopeo(["copy", "--quiet", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-no-creds", "--dest-no-creds", `docker://${reference}`, `docker://${front?.host}/skopeo/${name}`], { timeoutMs: 120_000 });
      }
    };
    const loopRow = await run("skopeo copy loop", loop);
    loopRow.note = `${MIRRORED} processes; ${loopRow.breakdown}`;
    (await run("skopeo copy loop, re-run", loop)).note = "re-reads every manifest";
    return rows;
  } finally {
    await Promise.allSettled([fixture?.close(), front?.close(), ...registries.map((r) => r.stop())]);
    await rm(layoutDir, { recursive: true, force: true });
  }
}
