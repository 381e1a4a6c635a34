/**
 * Copy speed: a ~230 MB image of 7 gzip layers copied between two real distribution
 * registries on loopback, into a fresh empty destination registry every run, by
 *
 *   - the quayside CLI (`node bin/quayside.js copy --progress none SRC DST`),
 *   - quayside as a library (copyImage with two RegistryStores, in this process: no Node start-up),
 *   - skopeo copy,
 *   - a generated bash script of curl pipelines that stream every blob GET -> PUT at once:
 *     the loopback ceiling, nothing copies faster through the same two registries,
 *   - and two references, not contenders: the least a Node program does for the same verified
 *     copy, with node:http and with undici (bench/lib/stream-copy.ts), to tell what Node and the
 *     HTTP stack cost from what quayside adds.
 *
 * Every run is checked afterwards (the manifest's digest and every blob's size at the
 * destination, read with node:http); a run whose copy is wrong does not count. Peak RSS of
 * the processes is read with GNU time (`/usr/bin/time -f %M`).
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { copyImage } from "../src/copy/copy.js";
import { RegistryClient } from "../src/registry/client.js";
import { RegistryStore } from "../src/store/registry-store.js";
import { onProcessExit } from "../test/harness/lifecycle.js";
import { startRegistry, type RunningRegistry } from "../test/harness/registry.js";
import { skopeoCopy } from "../test/harness/skopeo.js";
import { goalsOk, logGoals, type BenchOptions, type BenchOutcome, type Benchmark, type Goal } from "./lib/benchmark.js";
import { writeBigOciLayout, type BigImage } from "./lib/big-image.js";
import { buildDist } from "./lib/build.js";
import { execOk } from "./lib/exec.js";
import { GNU_TIME, timedProcess } from "./lib/gnu-time.js";
import { measure, timings, type Contender, type Kind, type Run } from "./lib/measure.js";
import { ROOT } from "./lib/paths.js";
import { profileCall, summarize as summarizeProfile, type ProfileSummary } from "./lib/profile.js";
import { checkImage, head, type ExpectedImage } from "./lib/registry-check.js";
import { machine, writeResults } from "./lib/results.js";
import { formatMarkdownTable, formatTable, type Column } from "./lib/table.js";
import { median, nowMs, round1, withTimeout } from "./lib/timing.js";
import { quaysideVersion, toolVersion } from "./lib/versions.js";

const NAME = "copy";
const REPOSITORY = "bench/copy";
const TAG = "v1";
/** Random content of each layer, in MB (10^6 bytes): 230 MB in all. */
const LAYER_MB = [80, 60, 40, 25, 15, 7, 3] as const;
const DEFAULT_RUNS = 5;
const WARMUP = 1;
const RUN_TIMEOUT_MS = 180_000;
/** No new round after this long; one round is about 4 copies of 230 MB plus 4 registry starts. */
const BUDGET_MS = 20 * 60_000;
const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 60_000;
/** Goals reported against (not enforced: timings depend on the machine). */
const GOAL_RATIO = 1.15;
const GOAL_RSS_MB = 100;

const QUAYSIDE_CLI = "quayside CLI";
const QUAYSIDE_LIB = "quayside (library)";
const SKOPEO = "skopeo copy";
const CURL = "curl pipeline (ceiling)";
const REF_HTTP = "ref: node:http stream copy";
const REF_UNDICI = "ref: undici stream copy";
/** The compiled reference copier, next to this file's compiled lib/. */
const STREAM_COPY = fileURLToPath(new URL("./lib/stream-copy.js", import.meta.url));

/** What a run reports itself. */
interface RunOutput {
  /** Peak RSS of the process, KiB (GNU time's %M); null in-process. */
  rssKb: number | null;
  /** CPU time, user + system, ms: of the process and what it waited for (GNU time's %U + %S), or of this process during an in-process run. */
  cpuMs: number | null;
}

/** What the check after a run found. */
interface Observed {
  /** The destination holds the image exactly. */
  verified: boolean;
  problems: string[];
  rssKb: number | null;
  cpuMs: number | null;
}

interface ToolResult {
  tool: string;
  kind: Kind;
  command: string;
  /** Measured runs that finished and were verified. */
  runs: number;
  /** Measured runs that failed or copied wrong. */
  failed: number;
  medianMs: number;
  minMs: number;
  runsMs: number[];
  /** Blob bytes over the median time, MB/s. */
  mbPerS: number | null;
  /** Median over the curl pipeline's median. */
  vsCurl: number | null;
  /** Median CPU time (user + system) of the copying process(es), ms. */
  medianCpuMs: number | null;
  /** Highest peak RSS over the measured runs, MB (10^6 bytes); null in-process. */
  peakRssMb: number | null;
  medianPeakRssMb: number | null;
  errors?: string[];
}

/** The temp dir everything lives in, and the registries in it. */
interface Bench {
  root: string;
  source: RunningRegistry;
  image: BigImage;
  expected: ExpectedImage;
  /** The destination of the run in progress. */
  destination: RunningRegistry | undefined;
  runNumber: number;
}

const mb = (bytes: number): number => bytes / 1e6;

function requireDestination(bench: Bench): RunningRegistry {
  if (!bench.destination) throw new Error("no destination registry for this run");
  return bench.destination;
}

/** Runs `command ARGS` under GNU time in a process group of its own; resolves with its peak RSS and CPU time. */
function timedRun(bench: Bench, command: string, args: readonly string[], signal: AbortSignal, env?: NodeJS.ProcessEnv): Promise<RunOutput> {
  return timedProcess(command, args, { timeFile: join(bench.root, `time-${bench.runNumber}.txt`), timeoutMs: RUN_TIMEOUT_MS, signal, ...(env ? { env } : {}) });
}

const singleQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The curl pipeline as a bash script: GET the manifest, then for every blob at once open an
 * upload (POST) and stream GET -> PUT through a pipe, wait for all, PUT the manifest.
 * `-T -` sends the body chunked (stdin has no length); the registry takes that, and it
 * streams, where `--data-binary @-` would read the whole blob into memory before sending.
 * (Measured: a real Content-Length, `-H "Content-Length: N" -H "Transfer-Encoding:" -T -`,
 * is no faster; without the second header curl sends both.)
 */
export function curlScript(sourceUrl: string, destinationUrl: string, image: ExpectedImage, workDir: string): string {
  const lines = [
    "#!/bin/bash",
    "# Generated by bench/copy.ts: copy one image between two registries with curl, every blob streamed at once.",
    "set -euo pipefail",
    `SRC=${singleQuote(sourceUrl)}`,
    `DST=${singleQuote(destinationUrl)}`,
    `REPO=${singleQuote(image.repository)}`,
    `MANIFEST=${singleQuote(join(workDir, "manifest.json"))}`,
    `curl -sSf -H ${singleQuote(`Accept: ${image.manifest.mediaType}`)} -o "$MANIFEST" "$SRC/v2/$REPO/manifests/${image.tag}"`,
    "blob() {",
    "  local location",
    '  location=$(curl -sSf -X POST -o /dev/null -w \'%header{location}\' "$DST/v2/$REPO/blobs/uploads/")',
    '  case $location in http://*|https://*) ;; *) location="$DST$location" ;; esac',
    "  case $location in *\\?*) location=\"$location&digest=$1\" ;; *) location=\"$location?digest=$1\" ;; esac",
    '  curl -sSf "$SRC/v2/$REPO/blobs/$1" | curl -sSf -o /dev/null -X PUT -H \'Content-Type: application/octet-stream\' -T - "$location"',
    "}",
    "pids=()",
    ...image.blobs.map((b) => `blob ${b.digest} & pids+=($!)`),
    'for pid in "${pids[@]}"; do wait "$pid"; done',
    `curl -sSf -o /dev/null -X PUT -H ${singleQuote(`Content-Type: ${image.manifest.mediaType}`)} --data-binary @"$MANIFEST" "$DST/v2/$REPO/manifests/${image.tag}"`,
    "",
  ];
  return lines.join("\n");
}

/** One copy with the library: new clients (new pools), closed after. */
async function libraryCopy(sourceHost: string, destinationHost: string, signal: AbortSignal): Promise<RunOutput> {
  const sourceClient = new RegistryClient(sourceHost, { dockerConfig: false });
  const destinationClient = new RegistryClient(destinationHost, { dockerConfig: false });
  const cpu = process.cpuUsage();
  try {
    const result = await copyImage(new RegistryStore(sourceClient, REPOSITORY), TAG, new RegistryStore(destinationClient, REPOSITORY), TAG, { signal });
    if (result.blobs.copied === 0) throw new Error("the library copied no blob: the destination was not empty");
    const used = process.cpuUsage(cpu);
    return { rssKb: null, cpuMs: Math.round((used.user + used.system) / 1000) };
  } finally {
    await Promise.allSettled([sourceClient.close(), destinationClient.close()]);
  }
}

function contenders(bench: Bench): Contender<RunOutput>[] {
  const src = `${bench.source.host}/${REPOSITORY}:${TAG}`;
  const dst = (): string => `${requireDestination(bench).host}/${REPOSITORY}:${TAG}`;
  // No developer's Docker config or containers auth may leak into a run.
  const childEnv = { ...process.env, DOCKER_CONFIG: join(bench.root, "no-docker-config"), REGISTRY_AUTH_FILE: join(bench.root, "no-auth.json") };
  return [
    {
      id: QUAYSIDE_CLI,
      kind: "process",
      command: "node bin/quayside.js copy --progress none SRC DST",
      run: (signal) => timedRun(bench, process.execPath, [join(ROOT, "bin", "quayside.js"), "copy", "--progress", "none", src, dst()], signal, childEnv),
    },
    {
      id: QUAYSIDE_LIB,
      kind: "library",
      command: "copyImage(new RegistryStore(new RegistryClient(SRC_HOST), REPO), TAG, new RegistryStore(new RegistryClient(DST_HOST), REPO), TAG, { signal })",
      run: (signal) => libraryCopy(bench.source.host, requireDestination(bench).host, signal),
    },
    {
      id: SKOPEO,
      kind: "process",
      command: "skopeo --insecure-policy copy --all --src-tls-verify=false --dest-tls-verify=false docker://SRC docker://DST",
      run: (signal) =>
        timedRun(bench, "skopeo", ["--insecure-policy", "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://${src}`, `docker://${dst()}`], signal, childEnv),
    },
    {
      id: CURL,
      kind: "process",
      command: "bash copy.sh: POST upload; curl GET blob | curl -T - PUT ?digest=, all blobs at once (&, wait); PUT manifest",
      run: async (signal) => {
        const workDir = await mkdtemp(join(bench.root, "curl-"));
        const script = join(workDir, "copy.sh");
        await writeFile(script, curlScript(bench.source.url, requireDestination(bench).url, bench.expected, workDir));
        try {
          return await timedRun(bench, "bash", [script], signal, childEnv);
        } finally {
          await rm(workDir, { recursive: true, force: true });
        }
      },
    },
    ...(["http", "undici"] as const).map(
      (stack): Contender<RunOutput> => ({
        id: stack === "http" ? REF_HTTP : REF_UNDICI,
        kind: "process",
        command: `node build/bench/lib/stream-copy.js ${stack} SRC_URL DST_URL REPO TAG (4 blobs at a time, sha256-checked, Content-Length PUT)`,
        run: (signal) => timedRun(bench, process.execPath, [STREAM_COPY, stack, bench.source.url, requireDestination(bench).url, REPOSITORY, TAG], signal, childEnv),
      }),
    ),
  ];
}

/**
 * Builds the image under `root` and pushes it into a new source registry (storage under
 * `root` too); `onSource` gets the registry as soon as it is up, so the caller stops it
 * whatever fails next.
 */
async function setUp(root: string, log: (line: string) => void, onSource: (registry: RunningRegistry) => void): Promise<Bench> {
  const layoutDir = join(root, "layout");
  log(`writing a ${LAYER_MB.reduce((a, b) => a + b, 0)} MB image of ${LAYER_MB.length} random gzip layers (${LAYER_MB.join(", ")} MB) and starting the source registry ...`);
  const started = nowMs();
  const controller = new AbortController();
  const [image, source] = await withTimeout(
    Promise.all([
      writeBigOciLayout(layoutDir, { tag: TAG, layerBytes: LAYER_MB.map((n) => n * 1e6), signal: controller.signal }),
      startRegistry({ mode: "anonymous", storageDir: join(root, "source-storage") }).then((r) => {
        onSource(r);
        return r;
      }),
    ]),
    SETUP_TIMEOUT_MS,
    "writing the image",
    () => controller.abort(),
  );
  log(`pushing it with skopeo copy oci:${layoutDir}:${TAG} docker://${source.host}/${REPOSITORY}:${TAG} ...`);
  await skopeoCopy(`oci:${layoutDir}:${TAG}`, `docker://${source.host}/${REPOSITORY}:${TAG}`, { dest: { registry: source, creds: null }, timeoutMs: SETUP_TIMEOUT_MS });
  await rm(layoutDir, { recursive: true, force: true });
  const expected: ExpectedImage = { repository: REPOSITORY, tag: TAG, manifest: image.manifest, blobs: image.blobs };
  const problems = await checkImage(source.url, expected);
  if (problems.length > 0) throw new Error(`the source registry does not hold the image as written: ${problems.join("; ")}`);
  log(`source ready in ${((nowMs() - started) / 1000).toFixed(1)} s: ${source.host}/${REPOSITORY}:${TAG} = ${image.manifest.digest}, ${mb(image.blobBytes).toFixed(1)} MB of blobs`);
  return { root, source, image, expected, destination: undefined, runNumber: 0 };
}

/** A fresh, empty destination registry for one run, its storage under the bench's temp dir. */
async function startDestination(bench: Bench): Promise<void> {
  bench.runNumber++;
  const storageDir = join(bench.root, `destination-${bench.runNumber}`);
  bench.destination = await startRegistry({ mode: "anonymous", storageDir });
  // Nothing there yet, or the run measures nothing.
  const there = await head(`${bench.destination.url}/v2/${REPOSITORY}/manifests/${TAG}`);
  if (there.status !== 404) throw new Error(`the new destination registry answers ${there.status} for the manifest, not 404`);
}

/** Stops the run's destination, removes its storage, and flushes the page cache's dirty pages so the next run does not pay for this one's writes. */
async function stopDestination(bench: Bench): Promise<void> {
  const destination = bench.destination;
  bench.destination = undefined;
  if (destination) {
    await destination.stop();
    await rm(destination.storageDir, { recursive: true, force: true });
  }
  await execOk("sync", [], { timeoutMs: STEP_TIMEOUT_MS });
}

async function observe(bench: Bench, output: RunOutput | undefined): Promise<Observed> {
  const destination = bench.destination;
  const measured = { rssKb: output?.rssKb ?? null, cpuMs: output?.cpuMs ?? null };
  if (!destination) return { verified: false, problems: ["no destination"], ...measured };
  try {
    const problems = await checkImage(destination.url, bench.expected);
    return { verified: problems.length === 0, problems, ...measured };
  } catch (error) {
    return { verified: false, problems: [error instanceof Error ? error.message : String(error)], ...measured };
  }
}

/** A run that finished but left a wrong copy is a failed run. */
function asChecked(runs: readonly Run<Observed>[]): Run<Observed>[] {
  return runs.map((r) => (r.error === undefined && !r.observed.verified ? { ...r, error: `wrong copy: ${r.observed.problems.join("; ")}` } : r));
}

function summarize(contender: Contender<RunOutput>, raw: readonly Run<Observed>[], blobBytes: number): ToolResult {
  const runs = asChecked(raw);
  const measured = runs.filter((r) => !r.warmup);
  const ok = measured.filter((r) => r.error === undefined);
  const timing = timings(runs);
  const rss = ok.map((r) => r.observed.rssKb).filter((v): v is number => v !== null);
  const cpu = ok.map((r) => r.observed.cpuMs).filter((v): v is number => v !== null);
  const errors = [...new Set(runs.filter((r) => r.error !== undefined).map((r) => r.error ?? ""))];
  return {
    tool: contender.id,
    kind: contender.kind,
    command: contender.command,
    runs: ok.length,
    failed: measured.length - ok.length,
    medianMs: timing.medianMs,
    minMs: timing.minMs,
    runsMs: timing.runsMs,
    mbPerS: ok.length > 0 ? round1(mb(blobBytes) / (timing.medianMs / 1000)) : null,
    vsCurl: null,
    medianCpuMs: cpu.length > 0 ? Math.round(median(cpu)) : null,
    peakRssMb: rss.length > 0 ? round1((Math.max(...rss) * 1024) / 1e6) : null,
    medianPeakRssMb: rss.length > 0 ? round1((median(rss) * 1024) / 1e6) : null,
    ...(errors.length > 0 ? { errors } : {}),
  };
}

/** a/b of each round where both ran and copied right: the ratio "in the same run". */
function pairedRatios(measured: Map<string, Run<Observed>[]>, a: string, b: string): number[] {
  const ok = (id: string): Map<number, number> =>
    new Map(asChecked(measured.get(id) ?? []).filter((r) => !r.warmup && r.error === undefined).map((r) => [r.round, r.ms]));
  const as = ok(a);
  const bs = ok(b);
  const ratios: number[] = [];
  for (const [round, ms] of as) {
    const other = bs.get(round);
    if (other !== undefined && other > 0) ratios.push(Math.round((ms / other) * 100) / 100);
  }
  return ratios;
}

const COLUMNS: Column[] = [
  { header: "tool" },
  { header: "kind" },
  { header: "runs ok", align: "right" },
  { header: "median s", align: "right" },
  { header: "min s", align: "right" },
  { header: "MB/s", align: "right" },
  { header: "vs curl", align: "right" },
  { header: "CPU s", align: "right" },
  { header: "peak RSS MB", align: "right" },
];

function tableRows(results: readonly ToolResult[]): string[][] {
  return results.map((r) => {
    const ran = r.runs > 0;
    return [
      r.tool,
      r.kind === "library" ? "in-process" : "process",
      `${r.runs}${r.failed > 0 ? ` (${r.failed} failed)` : ""}`,
      ran ? (r.medianMs / 1000).toFixed(2) : "-",
      ran ? (r.minMs / 1000).toFixed(2) : "-",
      r.mbPerS === null ? "-" : r.mbPerS.toFixed(0),
      r.vsCurl === null ? "-" : `${r.vsCurl.toFixed(2)}x`,
      r.medianCpuMs === null ? "-" : (r.medianCpuMs / 1000).toFixed(2),
      r.peakRssMb === null ? (r.kind === "library" ? "n/a" : "-") : r.peakRssMb.toFixed(1),
    ];
  });
}

/** One more library copy, into a fresh destination, under the CPU profiler (--cpu-prof). */
async function profileLibrary(bench: Bench): Promise<ProfileSummary & { copyMs: number }> {
  const file = join(ROOT, ".tmp", "bench", "copy-library.cpuprofile");
  await withTimeout(startDestination(bench), STEP_TIMEOUT_MS, "starting the destination registry");
  try {
    const controller = new AbortController();
    const started = nowMs();
    const { profile } = await withTimeout(
      profileCall(file, () => libraryCopy(bench.source.host, requireDestination(bench).host, controller.signal)),
      RUN_TIMEOUT_MS,
      "profiled library copy",
      () => controller.abort(),
    );
    const ms = nowMs() - started;
    const problems = await checkImage(requireDestination(bench).url, bench.expected);
    if (problems.length > 0) throw new Error(`the profiled copy is wrong: ${problems.join("; ")}`);
    return { ...summarizeProfile(file, profile, 15), copyMs: round1(ms) };
  } finally {
    await withTimeout(stopDestination(bench), STEP_TIMEOUT_MS, "stopping the destination registry");
  }
}

function logProfile(summary: ProfileSummary & { copyMs: number }, log: (line: string) => void): void {
  log("");
  log(`CPU profile of one more library copy (${(summary.copyMs / 1000).toFixed(2)} s, ${(summary.sampledMs / 1000).toFixed(2)} s sampled): ${summary.file}`);
  log(`self time by area: ${Object.entries(summary.byArea).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(", ")}`);
  log(formatTable([{ header: "self ms", align: "right" }, { header: "share", align: "right" }, { header: "function (top self time)" }], summary.top.map((t) => [t.ms.toFixed(1), `${t.share.toFixed(1)}%`, t.frame])));
}

async function startupMs(args: readonly string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = nowMs();
    await execOk(process.execPath, args, { timeoutMs: STEP_TIMEOUT_MS });
    times.push(nowMs() - start);
  }
  return round1(median(times));
}

async function run(options: BenchOptions): Promise<BenchOutcome> {
  const log = options.log;
  const runs = options.runs ?? DEFAULT_RUNS;
  await buildDist(options);
  const [skopeoVersion, registryVersion, curlVersion, gnuTime] = await Promise.all([
    toolVersion("skopeo", ["--version"]),
    toolVersion("docker-registry", ["--version"]),
    toolVersion("curl", ["--version"]),
    toolVersion(GNU_TIME, ["--version"]),
  ]);
  if (gnuTime === "unknown") throw new Error(`${GNU_TIME} (GNU time) is needed for the peak RSS of the processes`);

  // Everything on disk lives under one temp dir, removed at the end, also on a failure or Ctrl-C
  // (the harness's exit hooks run in reverse: registries are killed before the dir goes).
  const root = await mkdtemp(join(tmpdir(), "quayside-bench-copy-"));
  const unregister = onProcessExit(() => rmSync(root, { recursive: true, force: true }));
  let source: RunningRegistry | undefined;
  let bench: Bench | undefined;
  try {
    bench = await setUp(root, log, (r) => (source = r));
    const b = bench;
    const list = contenders(b);
    const measured = await measure<RunOutput, Observed>({
      contenders: list,
      runs,
      warmup: WARMUP,
      runTimeoutMs: RUN_TIMEOUT_MS,
      budgetMs: BUDGET_MS,
      reset: () => undefined,
      prepare: () => withTimeout(startDestination(b), STEP_TIMEOUT_MS, "starting the destination registry"),
      observe: (output) => observe(b, output),
      cleanup: () => withTimeout(stopDestination(b), STEP_TIMEOUT_MS, "stopping the destination registry"),
      describe: (o) =>
        `${o.verified ? "verified" : `WRONG COPY ${o.problems.slice(0, 2).join("; ")}`}${o.cpuMs !== null ? `, CPU ${(o.cpuMs / 1000).toFixed(2)} s` : ""}${o.rssKb !== null ? `, peak RSS ${((o.rssKb * 1024) / 1e6).toFixed(1)} MB` : ""}`,
      log,
    });

    const [nodeStartMs, cliStartMs] = [await startupMs(["-e", "0"]), await startupMs([join(ROOT, "bin", "quayside.js"), "--version"])];
    const profile = options.cpuProfile ? await profileLibrary(b) : undefined;

    const results = list.map((c) => summarize(c, measured.get(c.id) ?? [], b.image.blobBytes));
    const curl = results.find((r) => r.tool === CURL);
    for (const r of results) {
      r.vsCurl = curl !== undefined && curl.runs > 0 && r.runs > 0 ? Math.round((r.medianMs / curl.medianMs) * 100) / 100 : null;
    }
    const byTool = (id: string): ToolResult | undefined => results.find((r) => r.tool === id);
    const ratioOfMedians = (a: string, b2: string): number | null => {
      const x = byTool(a);
      const y = byTool(b2);
      return x && y && x.runs > 0 && y.runs > 0 ? Math.round((x.medianMs / y.medianMs) * 100) / 100 : null;
    };
    const ratios = {
      "quayside CLI / curl": { ofMedians: ratioOfMedians(QUAYSIDE_CLI, CURL), perRound: pairedRatios(measured, QUAYSIDE_CLI, CURL) },
      "quayside CLI / skopeo": { ofMedians: ratioOfMedians(QUAYSIDE_CLI, SKOPEO), perRound: pairedRatios(measured, QUAYSIDE_CLI, SKOPEO) },
      "curl / skopeo": { ofMedians: ratioOfMedians(CURL, SKOPEO), perRound: pairedRatios(measured, CURL, SKOPEO) },
      "quayside library / curl": { ofMedians: ratioOfMedians(QUAYSIDE_LIB, CURL), perRound: pairedRatios(measured, QUAYSIDE_LIB, CURL) },
    };

    const goals = checkGoals(results, ratios["quayside CLI / curl"], ratios["quayside library / curl"]);
    const rows = tableRows(results);
    log("");
    log(
      `copy ${REPOSITORY}:${TAG} (${LAYER_MB.length} layers + config, ${mb(b.image.blobBytes).toFixed(1)} MB) between two local registries, a fresh destination each run; median of ${runs} runs after ${WARMUP} warm-up`,
    );
    log(formatTable(COLUMNS, rows));
    log("vs curl: median / the curl pipeline's median. CPU: median user + system time of the copying process and its children (GNU time %U + %S; in-process: this process during the copy), the registries' not counted.");
    log("peak RSS: the highest of the measured runs (GNU time %M; for the curl pipeline the largest single process).");
    for (const [name, r] of Object.entries(ratios)) {
      log(`${name}: ${r.ofMedians === null ? "-" : `${r.ofMedians.toFixed(2)}x`} (ratio of medians); per round: ${r.perRound.map((x) => x.toFixed(2)).join(", ") || "-"}`);
    }
    log(`starting Node alone (node -e 0): ${nodeStartMs.toFixed(1)} ms; the quayside CLI doing nothing (quayside --version): ${cliStartMs.toFixed(1)} ms (medians of 5)`);
    if (options.markdown) log(`\n${formatMarkdownTable(COLUMNS, rows)}`);
    log("");
    logGoals(goals, log);
    if (profile) logProfile(profile, log);

    const resultsFile = await writeResults(NAME, {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      setup: {
        registry: registryVersion,
        auth: "anonymous, plain HTTP on 127.0.0.1",
        destination: "a new, empty registry every run (stopped, storage removed and `sync` after it)",
        repository: REPOSITORY,
        tag: TAG,
        runs,
        warmup: WARMUP,
        nodeStartMs,
        cliStartMs,
      },
      image: {
        manifest: b.image.manifest,
        config: b.image.config,
        layers: b.image.layers,
        blobBytes: b.image.blobBytes,
      },
      versions: { quayside: quaysideVersion(), skopeo: skopeoVersion, curl: curlVersion, gnuTime },
      results,
      ratios,
      goals,
      ...(profile ? { profile } : {}),
      runs: Object.fromEntries(
        list.map((c) => [c.id, asChecked(measured.get(c.id) ?? []).map((r) => ({ round: r.round, warmup: r.warmup, ms: round1(r.ms), cpuMs: r.observed.cpuMs, rssKb: r.observed.rssKb, ...(r.error !== undefined ? { error: r.error } : {}) }))]),
      ),
    });
    log(`\nwrote ${resultsFile}`);
    return { ok: goalsOk(goals), resultsFile };
  } finally {
    if (bench?.destination) await stopDestination(bench).catch(() => undefined);
    await source?.stop();
    await rm(root, { recursive: true, force: true });
    unregister();
  }
}

type Ratio = { ofMedians: number | null; perRound: number[] };

function checkGoals(results: readonly ToolResult[], cliVsCurl: Ratio, libraryVsCurl: Ratio): Goal[] {
  const goals: Goal[] = [];
  const quayside = results.filter((r) => r.tool.startsWith("quayside"));
  goals.push({
    goal: "every measured quayside run copied the image exactly (manifest digest, every blob)",
    enforced: true,
    met: quayside.length > 0 && quayside.every((r) => r.runs > 0 && r.failed === 0),
    detail: quayside.map((r) => `${r.tool}: ${r.runs} verified, ${r.failed} failed${r.errors ? ` (${r.errors[0] ?? ""})` : ""}`).join("; "),
  });
  for (const [who, ratio] of [
    ["quayside CLI", cliVsCurl],
    ["quayside library (the copy without Node start-up)", libraryVsCurl],
  ] as const) {
    const r = ratio.ofMedians;
    goals.push({
      goal: `${who} within ${GOAL_RATIO}x of the curl pipeline`,
      enforced: false,
      met: r !== null && r <= GOAL_RATIO,
      detail: `${r === null ? "no figure" : `${r.toFixed(2)}x`} (median of per-round ratios ${ratio.perRound.length > 0 ? `${median(ratio.perRound).toFixed(2)}x` : "-"})`,
    });
  }
  const cli = results.find((r) => r.tool === QUAYSIDE_CLI);
  goals.push({
    goal: `quayside CLI peak RSS under ${GOAL_RSS_MB} MB`,
    enforced: false,
    met: cli?.peakRssMb !== null && cli?.peakRssMb !== undefined && cli.peakRssMb < GOAL_RSS_MB,
    detail: cli?.peakRssMb != null ? `${cli.peakRssMb.toFixed(1)} MB (highest of ${cli.runs} runs)` : "not measured",
  });
  return goals;
}

export const copy: Benchmark = {
  name: NAME,
  description: "copy a 230 MB, 7-layer image between two local registries: quayside (CLI, library), skopeo, a curl pipeline, Node references",
  run,
};
