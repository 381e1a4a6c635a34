/**
 * Start-up: how long a one-shot command takes from exec to exit, next to a bare `node -e 0`
 * started the same way, in the same rounds. quayside `--version`, `--help` and `digest` of an
 * image on a loopback registry, against skopeo and one-shot scripts with the npm clients
 * (bench/peers/digest-*.cjs) that print the same digest.
 *
 * The registry is a real distribution registry (anonymous, plain HTTP on 127.0.0.1) seeded
 * with the integration tests' images; every tool talks to it directly. After the timed rounds,
 * each tool runs once more through the harness's front, which counts its requests.
 *
 * A diagnostic row is the floor of the digest: a script that sends the same HEAD with Node's own
 * HTTP client and prints the header (bench/floors/digest-node-http.cjs). After the timed rounds,
 * each tool also runs a few times under GNU time, for its peak RSS and CPU time: on a machine where
 * a fresh page of memory costs (a VM), how much memory a short command touches is most of its time.
 *
 * The machine's environment is kept (NODE_EXTRA_CA_CERTS included: every Node row pays for it,
 * and a diagnostic row shows what it costs).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goalsOk, logGoals, type BenchOptions, type BenchOutcome, type Benchmark, type Goal } from "./lib/benchmark.js";
import { buildDist } from "./lib/build.js";
import { startAnonymousImagesEnvironment, type AnonymousImagesEnvironment } from "./lib/environment.js";
import { exec } from "./lib/exec.js";
import { GNU_TIME, timedProcess } from "./lib/gnu-time.js";
import { errorMessage, measure, timings, type Contender, type Run } from "./lib/measure.js";
import { DRC, ensurePeers, peerVersions, SNYK } from "./lib/peers.js";
import { BENCH_DIR, PEERS_DIR, ROOT } from "./lib/paths.js";
import { machine, writeResults } from "./lib/results.js";
import { formatMarkdownTable, formatTable, type Column } from "./lib/table.js";
import { median, min, round1 } from "./lib/timing.js";
import { quaysideVersion, toolVersion } from "./lib/versions.js";

const NAME = "startup";
const REPOSITORY = "test/single";
const TAG = "v1";
const DEFAULT_RUNS = 31;
const WARMUP = 1;
/** Runs of each tool under GNU time (peak RSS, CPU time), after the timed rounds. */
const USAGE_RUNS = 5;
const RUN_TIMEOUT_MS = 30_000;
const BUDGET_MS = 5 * 60_000;
/** Goals reported against (not enforced: timings depend on the machine), in ms over bare Node. */
const GOAL_VERSION_MS = 25;
const GOAL_DIGEST_MS = 50;

const NODE = "node -e 0 (bare Node)";
const NODE_NO_CA = "node -e 0, without NODE_EXTRA_CA_CERTS";
const Q_VERSION = "quayside --version";
const Q_HELP = "quayside --help";
const Q_DIGEST = "quayside digest";
const Q_DIGEST_PLAIN = "quayside --plain-http digest";
const FLOOR_HTTP = "floor: the HEAD alone, with node:http";
const SKOPEO = "skopeo inspect --format {{.Digest}}";
const SNYK_DIGEST = `${SNYK} getManifest`;
const DRC_DIGEST = `${DRC} getManifest`;

/** What a run must print: exactly this line, or (help) a line starting with it, or nothing. */
type Expect = { line: string } | { prefix: string } | { empty: true };

interface Tool {
  id: string;
  /** A diagnostic row: read against the others, not a contender. */
  diagnostic: boolean;
  /** Talks to the registry: its requests are counted in the extra pass. */
  registry: boolean;
  expect: Expect;
  command: string;
  /** The argv for a registry at HOST. */
  argv(host: string): [string, ...string[]];
  env?: NodeJS.ProcessEnv;
}

interface Observed {
  ok: boolean;
  /** What was wrong with the output, if anything. */
  problem?: string;
}

interface ToolResult {
  tool: string;
  diagnostic: boolean;
  command: string;
  outputOk: boolean;
  problems?: string[];
  /** Requests the tool sent, as the counting front saw them in one run (null: it talks to no registry). */
  requests: string[] | null;
  runs: number;
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
  minMs: number;
  /** median / bare Node's median. */
  vsNode: number | null;
  /** median - bare Node's median. */
  overNodeMs: number | null;
  /** The median of (this run - bare Node's run) over the rounds both ran in. */
  overNodeRoundMs: number | null;
  runsMs: number[];
  /** Median peak RSS over the runs under GNU time, MB (10^6 bytes); null without GNU time. */
  peakRssMb: number | null;
  /** Median CPU time (user + system) over the runs under GNU time, ms; null without GNU time. */
  cpuMs: number | null;
  errors?: string[];
}

function tools(env: AnonymousImagesEnvironment): Tool[] {
  const bin = join(ROOT, "bin", "quayside.js");
  const node = process.execPath;
  const reference = (host: string): string => `${host}/${REPOSITORY}:${TAG}`;
  const digest = { line: env.seeded.single.digest };
  // No developer's Docker config may leak into a run.
  const childEnv = { ...process.env, DOCKER_CONFIG: join(ROOT, ".tmp", "bench-no-docker-config") };
  const list: Tool[] = [
    { id: NODE, diagnostic: false, registry: false, expect: { empty: true }, command: "node -e 0", argv: () => [node, "-e", "0"] },
    { id: Q_VERSION, diagnostic: false, registry: false, expect: { line: quaysideVersion() }, command: "node bin/quayside.js --version", argv: () => [node, bin, "--version"] },
    { id: Q_HELP, diagnostic: false, registry: false, expect: { prefix: "Usage: quayside" }, command: "node bin/quayside.js --help", argv: () => [node, bin, "--help"] },
    {
      id: Q_DIGEST,
      diagnostic: false,
      registry: true,
      expect: digest,
      command: `node bin/quayside.js digest HOST/${REPOSITORY}:${TAG}`,
      argv: (host) => [node, bin, "digest", reference(host)],
    },
    {
      // What the TLS probe of a loopback registry costs (skopeo and quayside both try TLS first).
      id: Q_DIGEST_PLAIN,
      diagnostic: true,
      registry: true,
      expect: digest,
      command: `node bin/quayside.js --plain-http digest HOST/${REPOSITORY}:${TAG}`,
      argv: (host) => [node, bin, "--plain-http", "digest", reference(host)],
    },
    {
      // What the one request costs in Node, with Node's own HTTP client and nothing else.
      id: FLOOR_HTTP,
      diagnostic: true,
      registry: true,
      expect: digest,
      command: `node bench/floors/digest-node-http.cjs HOST ${REPOSITORY} ${TAG}`,
      argv: (host) => [node, join(BENCH_DIR, "floors", "digest-node-http.cjs"), host, REPOSITORY, TAG],
    },
    {
      id: SKOPEO,
      diagnostic: false,
      registry: true,
      expect: digest,
      command: `skopeo inspect --tls-verify=false --format {{.Digest}} docker://HOST/${REPOSITORY}:${TAG}`,
      argv: (host) => ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${reference(host)}`],
    },
    {
      id: SNYK_DIGEST,
      diagnostic: false,
      registry: true,
      expect: digest,
      command: `node bench/peers/digest-snyk.cjs HOST ${REPOSITORY} ${TAG}`,
      argv: (host) => [node, join(PEERS_DIR, "digest-snyk.cjs"), host, REPOSITORY, TAG],
    },
    {
      id: DRC_DIGEST,
      diagnostic: false,
      registry: true,
      expect: digest,
      command: `node bench/peers/digest-drc.cjs HOST ${REPOSITORY} ${TAG}`,
      argv: (host) => [node, join(PEERS_DIR, "digest-drc.cjs"), host, REPOSITORY, TAG],
    },
  ];
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
    // Node reads that whole bundle into its root store before any JavaScript runs.
    const { NODE_EXTRA_CA_CERTS: _dropped, ...withoutExtraCa } = process.env;
    list.splice(1, 0, { id: NODE_NO_CA, diagnostic: true, registry: false, expect: { empty: true }, command: "node -e 0", argv: () => [node, "-e", "0"], env: withoutExtraCa });
  }
  return list.map((tool) => ({ ...tool, env: tool.env ?? childEnv }));
}

async function runTool(tool: Tool, host: string, signal?: AbortSignal): Promise<string> {
  const [command, ...args] = tool.argv(host);
  const result = await exec(command, args, { timeoutMs: RUN_TIMEOUT_MS, env: tool.env, ...(signal ? { signal } : {}) });
  if (result.timedOut) throw new Error(`killed after ${RUN_TIMEOUT_MS} ms`);
  if (result.code !== 0) throw new Error(`exit ${result.code ?? result.signal}: ${result.stderr.trim().split("\n").slice(-2).join(" ") || "no message"}`);
  return result.stdout;
}

function check(expect: Expect, stdout: string | undefined): Observed {
  if (stdout === undefined) return { ok: false, problem: "no output (the run failed)" };
  const first = stdout.split("\n")[0] ?? "";
  if ("empty" in expect) return stdout === "" ? { ok: true } : { ok: false, problem: `printed ${JSON.stringify(stdout.slice(0, 80))}` };
  if ("prefix" in expect) return first.startsWith(expect.prefix) ? { ok: true } : { ok: false, problem: `first line ${JSON.stringify(first.slice(0, 80))}` };
  return stdout === `${expect.line}\n` ? { ok: true } : { ok: false, problem: `printed ${JSON.stringify(stdout.slice(0, 100))}, expected ${expect.line}` };
}

function summarize(tool: Tool, runs: readonly Run<Observed>[], nodeRuns: readonly Run<Observed>[], requests: string[] | null, usage: Usage | undefined): ToolResult {
  const timing = timings(runs);
  const measured = runs.filter((r) => !r.warmup && r.error === undefined);
  const ms = measured.map((r) => r.ms);
  const sorted = [...ms].sort((a, b) => a - b);
  const quantile = (q: number): number => round1(sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? Number.NaN);
  const nodeByRound = new Map(nodeRuns.filter((r) => !r.warmup && r.error === undefined).map((r) => [r.round, r.ms]));
  const nodeMedian = timings(nodeRuns).medianMs;
  const paired = measured.flatMap((r) => {
    const base = nodeByRound.get(r.round);
    return base === undefined ? [] : [r.ms - base];
  });
  const problems = [...new Set(runs.filter((r) => !r.observed.ok).map((r) => r.observed.problem ?? "wrong output"))];
  const errors = [...new Set(runs.filter((r) => r.error !== undefined).map((r) => r.error ?? ""))];
  const has = ms.length > 0 && Number.isFinite(nodeMedian) && nodeMedian > 0;
  return {
    tool: tool.id,
    diagnostic: tool.diagnostic,
    command: tool.command,
    outputOk: ms.length > 0 && problems.length === 0,
    ...(problems.length > 0 ? { problems } : {}),
    requests,
    runs: timing.runs,
    medianMs: timing.medianMs,
    p25Ms: quantile(0.25),
    p75Ms: quantile(0.75),
    minMs: round1(min(ms)),
    vsNode: has ? Math.round((timing.medianMs / nodeMedian) * 100) / 100 : null,
    overNodeMs: has ? round1(timing.medianMs - nodeMedian) : null,
    overNodeRoundMs: paired.length > 0 ? round1(median(paired)) : null,
    runsMs: timing.runsMs,
    peakRssMb: usage?.peakRssMb ?? null,
    cpuMs: usage?.cpuMs ?? null,
    ...(errors.length > 0 ? { errors } : {}),
  };
}

const COLUMNS: Column[] = [
  { header: "tool" },
  { header: "output" },
  { header: "requests", align: "right" },
  { header: "median ms", align: "right" },
  { header: "p25-p75 ms", align: "right" },
  { header: "min ms", align: "right" },
  { header: "vs node", align: "right" },
  { header: "over node ms", align: "right" },
  { header: "per round", align: "right" },
  { header: "peak RSS MB", align: "right" },
  { header: "CPU ms", align: "right" },
];

function tableRows(results: readonly ToolResult[]): string[][] {
  const signed = (n: number | null): string => (n === null ? "-" : `${n >= 0 ? "+" : ""}${n.toFixed(1)}`);
  return results.map((r) => {
    const ran = r.runs > 0;
    return [
      `${r.tool}${r.diagnostic ? " (diagnostic)" : ""}`,
      !ran ? `error: ${r.errors?.[0] ?? "no run"}` : r.outputOk ? "ok" : `WRONG: ${r.problems?.[0] ?? ""}`,
      r.requests === null ? "-" : String(r.requests.length),
      ran ? r.medianMs.toFixed(1) : "-",
      ran ? `${r.p25Ms.toFixed(0)}-${r.p75Ms.toFixed(0)}` : "-",
      ran ? r.minMs.toFixed(1) : "-",
      r.vsNode === null || r.tool === NODE ? "-" : `${r.vsNode.toFixed(2)}x`,
      r.tool === NODE ? "-" : signed(r.overNodeMs),
      r.tool === NODE ? "-" : signed(r.overNodeRoundMs),
      r.peakRssMb === null ? "-" : r.peakRssMb.toFixed(1),
      r.cpuMs === null ? "-" : String(r.cpuMs),
    ];
  });
}

/** One more run of each registry tool through the counting front: which requests it makes. */
async function countRequests(list: readonly Tool[], env: AnonymousImagesEnvironment): Promise<Map<string, string[]>> {
  const counted = new Map<string, string[]>();
  for (const tool of list.filter((t) => t.registry)) {
    env.counter.reset();
    try {
      await runTool(tool, env.counter.host);
      counted.set(tool.id, env.counter.stats().requests.map((r) => `${r.status} ${r.method} ${r.path}`));
    } catch (error) {
      counted.set(tool.id, [`(run failed: ${errorMessage(error)})`]);
    }
  }
  return counted;
}

interface Usage {
  peakRssMb: number | null;
  cpuMs: number | null;
}

/** A few more runs of each tool under GNU time: the medians of its peak RSS and CPU time. */
async function measureUsage(list: readonly Tool[], host: string): Promise<Map<string, Usage>> {
  const usage = new Map<string, Usage>();
  const dir = await mkdtemp(join(tmpdir(), "quayside-bench-startup-"));
  try {
    for (const tool of list) {
      const rss: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < USAGE_RUNS; i++) {
        const [command, ...args] = tool.argv(host);
        const used = await timedProcess(command, args, { timeFile: join(dir, `${i}.txt`), timeoutMs: RUN_TIMEOUT_MS, ...(tool.env ? { env: tool.env } : {}) });
        if (used.rssKb !== null) rss.push((used.rssKb * 1024) / 1e6);
        if (used.cpuMs !== null) cpu.push(used.cpuMs);
      }
      usage.set(tool.id, { peakRssMb: rss.length > 0 ? round1(median(rss)) : null, cpuMs: cpu.length > 0 ? Math.round(median(cpu)) : null });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return usage;
}

async function run(options: BenchOptions): Promise<BenchOutcome> {
  const log = options.log;
  const runs = options.runs ?? DEFAULT_RUNS;
  await Promise.all([buildDist(options), ensurePeers(log)]);
  const [skopeoVersion, registryVersion, gnuTime] = await Promise.all([toolVersion("skopeo", ["--version"]), toolVersion("docker-registry", ["--version"]), toolVersion(GNU_TIME, ["--version"])]);

  log("starting an anonymous registry and pushing the test images ...");
  const env = await startAnonymousImagesEnvironment();
  try {
    const host = env.registry.host;
    log(`ready in ${(env.setupMs / 1000).toFixed(1)} s: ${host}/${REPOSITORY}:${TAG} is ${env.seeded.single.digest}`);
    const list = tools(env);
    const contenders: Contender<string>[] = list.map((tool) => ({
      id: tool.id,
      kind: "process",
      command: tool.command,
      run: (signal) => runTool(tool, host, signal),
    }));
    const expectOf = new Map(list.map((t) => [t.id, t.expect]));
    const measured = await measure<string, Observed>({
      contenders,
      runs,
      warmup: WARMUP,
      runTimeoutMs: RUN_TIMEOUT_MS,
      budgetMs: BUDGET_MS,
      reset: () => undefined,
      observe: (stdout, contender) => check(expectOf.get(contender.id) ?? { empty: true }, stdout),
      describe: (o) => (o.ok ? "" : `WRONG OUTPUT: ${o.problem ?? ""}`),
      log,
    });
    const requests = await countRequests(list, env);
    if (gnuTime === "unknown") log(`${GNU_TIME} (GNU time) is not installed: no peak RSS or CPU time`);
    else log(`peak RSS and CPU time: ${USAGE_RUNS} more runs of each under GNU time ...`);
    const usage = gnuTime === "unknown" ? new Map<string, Usage>() : await measureUsage(list, host);

    const nodeRuns = measured.get(NODE) ?? [];
    const results = list.map((tool) => summarize(tool, measured.get(tool.id) ?? [], nodeRuns, tool.registry ? (requests.get(tool.id) ?? []) : null, usage.get(tool.id)));
    const goals = checkGoals(results);
    const rows = tableRows(results);
    log("");
    log(`start-up of one-shot commands, median of ${runs} interleaved rounds after ${WARMUP} warm-up (order rotating each round)`);
    log(formatTable(COLUMNS, rows));
    log("vs node: median / bare Node's median; over node: median - bare Node's median; per round: median of (run - bare Node's run in the same round)");
    log(`peak RSS, CPU ms: medians of ${USAGE_RUNS} runs under GNU time (%M; %U + %S) after the timed rounds`);
    log(`NODE_EXTRA_CA_CERTS is ${process.env.NODE_EXTRA_CA_CERTS === undefined ? "not set" : `set (${process.env.NODE_EXTRA_CA_CERTS}): every Node row but the diagnostic one pays for it`}`);
    for (const r of results) if (r.requests !== null) log(`requests of ${r.tool}: ${r.requests.join(", ") || "none"}`);
    if (options.markdown) log(`\n${formatMarkdownTable(COLUMNS, rows)}`);
    log("");
    logGoals(goals, log);

    const resultsFile = await writeResults(NAME, {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      setup: {
        registry: registryVersion,
        reference: `HOST/${REPOSITORY}:${TAG}`,
        digest: env.seeded.single.digest,
        mediaType: env.seeded.single.mediaType,
        runs,
        warmup: WARMUP,
        nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
        setupMs: Math.round(env.setupMs),
      },
      versions: { quayside: quaysideVersion(), skopeo: skopeoVersion, gnuTime, ...peerVersions() },
      results,
      goals,
    });
    log(`\nwrote ${resultsFile}`);
    return { ok: goalsOk(goals), resultsFile };
  } finally {
    await env.stop();
  }
}

function checkGoals(results: readonly ToolResult[]): Goal[] {
  const find = (id: string): ToolResult | undefined => results.find((r) => r.tool === id);
  const goals: Goal[] = [];
  const quayside = results.filter((r) => r.tool.startsWith("quayside"));
  goals.push({
    goal: "every quayside command prints what it should (the version, the usage, the digest skopeo saw at push)",
    enforced: true,
    met: quayside.length > 0 && quayside.every((r) => r.runs > 0 && r.outputOk && r.errors === undefined),
    detail: quayside.map((r) => `${r.tool}: ${r.runs > 0 ? (r.outputOk ? "ok" : (r.problems?.[0] ?? "wrong")) : (r.errors?.[0] ?? "no run")}`).join("; "),
  });
  for (const [id, limit] of [
    [Q_VERSION, GOAL_VERSION_MS],
    [Q_DIGEST, GOAL_DIGEST_MS],
  ] as const) {
    // Judged on the paired differences (each run against bare Node's run of the same round): on a
    // shared machine a burst of load moves both, and a difference of medians moves with it.
    const r = find(id);
    const over = r?.overNodeRoundMs ?? null;
    goals.push({
      goal: `${id} within ${limit} ms of bare Node (median of the per-round differences)`,
      enforced: false,
      met: over !== null && over <= limit,
      detail:
        r === undefined || over === null
          ? "no run"
          : `${over >= 0 ? "+" : ""}${over.toFixed(1)} ms (median ${r.medianMs.toFixed(1)} ms, ${r.overNodeMs !== null && r.overNodeMs >= 0 ? "+" : ""}${r.overNodeMs?.toFixed(1) ?? "-"} ms over bare Node's median)`,
    });
  }
  return goals;
}

export const startup: Benchmark = {
  name: NAME,
  description: "one-shot command start-up: quayside --version, --help, digest (loopback registry) vs bare node, skopeo, npm clients",
  run,
};
