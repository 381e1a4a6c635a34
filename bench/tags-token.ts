/**
 * Tag listing behind token auth: 250 tags in one repository of a real distribution
 * registry that trusts the harness's token server, served through the harness's
 * page-capping front (at most 100 tags a page, Link headers, like Quay and Docker Hub),
 * listed by quayside (library and CLI), skopeo, and the npm clients people use today.
 *
 * Every run starts from nothing (a new client, or a new process), so no token cache carries
 * over. For each run we count the token server's requests and the registry requests that
 * went through the front, and check the tags: all of them, in order, none twice.
 */
import { join } from "node:path";
import { RegistryClient } from "../src/registry/client.js";
import { goalsOk, logGoals, type BenchOptions, type BenchOutcome, type Benchmark, type Goal } from "./lib/benchmark.js";
import { buildDist } from "./lib/build.js";
import { startTokenTagsEnvironment, type TokenTagsEnvironment } from "./lib/environment.js";
import { execOk } from "./lib/exec.js";
import { measure, timings, type Contender, type Kind, type Run, type Timings } from "./lib/measure.js";
import { DRC, ensurePeers, loadDrc, loadSnyk, peerVersions, SNYK } from "./lib/peers.js";
import { ROOT } from "./lib/paths.js";
import { median, nowMs, round1 } from "./lib/timing.js";
import { machine, writeResults } from "./lib/results.js";
import { formatMarkdownTable, formatTable, type Column } from "./lib/table.js";
import { quaysideVersion, toolVersion } from "./lib/versions.js";

const NAME = "tags-token";
const MAX_PAGE = 100;
const DEFAULT_RUNS = 5;
const WARMUP = 1;
const RUN_TIMEOUT_MS = 60_000;
const BUDGET_MS = 5 * 60_000;

/** What one run did, read from the counters and the tags it returned. */
interface Observed {
  tokenRequests: number;
  registryRequests: number;
  /** TCP connections to the front (a TLS probe of the plain-HTTP port is one). */
  connections: number;
  tagPages: number;
  tags: number;
  /** Every expected tag, nothing else. */
  complete: boolean;
  /** Exactly the expected list, in the registry's order. */
  inOrder: boolean;
  duplicates: number;
  /** "STATUS METHOD PATH" of every request through the front, in order. */
  requests: string[];
}

/** A count that was the same in every run, or the range it moved in. */
type Count = number | { min: number; max: number };

interface ToolResult {
  tool: string;
  kind: Kind;
  command: string;
  tags: Count;
  complete: boolean;
  inOrder: boolean;
  duplicates: Count;
  tokenRequests: Count;
  registryRequests: Count;
  connections: Count;
  tagPages: Count;
  medianMs: number;
  minMs: number;
  /** Median over the median of the quayside contender of the same kind (library or process). */
  vsQuayside: number | null;
  runsMs: number[];
  /** The requests of the first measured run, as the front saw them. */
  requests: string[];
  errors?: string[];
}

const QUAYSIDE_LIB = "quayside (library)";
const QUAYSIDE_LIB_PLAIN = "quayside (library, plainHttp)";
const QUAYSIDE_CLI = "quayside CLI";
const SKOPEO = "skopeo list-tags";

function contenders(env: TokenTagsEnvironment): Contender<string[]>[] {
  const host = env.pager.host;
  const repository = env.seeded.repository;
  const { username, password } = env.admin;
  const snyk = loadSnyk();
  const drc = loadDrc();
  // No developer's Docker config may leak into a run (with -u the CLI does not read it anyway).
  const childEnv = { ...process.env, DOCKER_CONFIG: join(ROOT, ".tmp", "bench-no-docker-config") };

  return [
    {
      id: QUAYSIDE_LIB,
      kind: "library",
      command: `new RegistryClient(HOST, { credentials: { kind: "basic", username, password }, dockerConfig: false }).tags(REPO)`,
      run: (signal) => quaysideTags(host, repository, { username, password }, false, signal),
    },
    {
      // Not a goal, a diagnosis: what the https-first probe of a loopback registry costs
      // (the npm peers below are told plain HTTP up front).
      id: QUAYSIDE_LIB_PLAIN,
      kind: "library",
      command: `new RegistryClient(HOST, { credentials, dockerConfig: false, plainHttp: true }).tags(REPO)`,
      run: (signal) => quaysideTags(host, repository, { username, password }, true, signal),
    },
    {
      id: QUAYSIDE_CLI,
      kind: "process",
      command: `node bin/quayside.js -u ${username} --password-stdin tags HOST/REPO`,
      run: async (signal) => {
        const args = [join(ROOT, "bin", "quayside.js"), "-u", username, "--password-stdin", "tags", `${host}/${repository}`];
        const { stdout } = await execOk(process.execPath, args, { input: `${password}\n`, timeoutMs: RUN_TIMEOUT_MS, env: childEnv, signal });
        return stdout.split("\n").filter((line) => line !== "");
      },
    },
    {
      id: SKOPEO,
      kind: "process",
      command: `skopeo list-tags --tls-verify=false --creds ${username}:PASSWORD docker://HOST/REPO`,
      run: async (signal) => {
        const args = ["list-tags", "--tls-verify=false", "--creds", `${username}:${password}`, `docker://${host}/${repository}`];
        const { stdout } = await execOk("skopeo", args, { timeoutMs: RUN_TIMEOUT_MS, env: childEnv, signal });
        const parsed = JSON.parse(stdout) as { Tags?: unknown };
        return stringList(parsed.Tags, "skopeo Tags");
      },
    },
    {
      id: `${SNYK} getTags`,
      kind: "library",
      command: `getTags(HOST, REPO, username, password, undefined, undefined, { protocol: "http:" })`,
      run: async () => snyk.getTags(host, repository, username, password, undefined, undefined, { protocol: "http:", timeout: RUN_TIMEOUT_MS }),
    },
    {
      id: `${SNYK} getTagsPaginated`,
      kind: "library",
      command: `getTagsPaginated(HOST, REPO, username, password, undefined, { protocol: "http:" })`,
      run: async () => snyk.getTagsPaginated(host, repository, username, password, undefined, { protocol: "http:", timeout: RUN_TIMEOUT_MS }),
    },
    {
      id: `${DRC} listTags`,
      kind: "library",
      command: `createClientV2({ name: "HOST/REPO", username, password }).listTags(cb)`,
      run: () =>
        new Promise<string[]>((resolve, reject) => {
          const client = drc.createClientV2({ name: `${host}/${repository}`, username, password });
          client.listTags((error, body) => {
            client.close();
            if (error) return reject(error);
            try {
              resolve(stringList(typeof body === "object" && body !== null ? (body as { tags?: unknown }).tags : undefined, "listTags body.tags"));
            } catch (e) {
              reject(e);
            }
          });
        }),
    },
  ];
}

/** One listing with a new client: a new connection pool and an empty token cache. */
async function quaysideTags(host: string, repository: string, user: { username: string; password: string }, plainHttp: boolean, signal: AbortSignal): Promise<string[]> {
  const client = new RegistryClient(host, { credentials: { kind: "basic", ...user }, dockerConfig: false, ...(plainHttp ? { plainHttp } : {}) });
  try {
    const tags: string[] = [];
    for await (const tag of client.tags(repository, { signal })) tags.push(tag);
    return tags;
  } finally {
    await client.close();
  }
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) throw new Error(`${what} is not a list of strings`);
  return value;
}

function observe(env: TokenTagsEnvironment, expected: readonly string[], tags: string[] | undefined): Observed {
  const pager = env.pager.stats();
  const list = tags ?? [];
  const unique = new Set(list);
  const wanted = new Set(expected);
  const complete = unique.size === wanted.size && [...wanted].every((t) => unique.has(t));
  return {
    tokenRequests: env.tokenServer.stats().count,
    registryRequests: pager.count,
    connections: pager.connections,
    tagPages: pager.tagPages,
    tags: list.length,
    complete,
    inOrder: complete && list.length === expected.length && list.every((t, i) => t === expected[i]),
    duplicates: list.length - unique.size,
    requests: pager.requests.map((r) => `${r.status} ${r.method} ${r.path}`),
  };
}

function count(values: readonly number[]): Count {
  if (values.length === 0) return 0;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? lo : { min: lo, max: hi };
}

const showCount = (c: Count): string => (typeof c === "number" ? String(c) : `${c.min}-${c.max}`);
const isExactly = (c: Count, n: number): boolean => c === n;

function summarize(contender: Contender<string[]>, runs: readonly Run<Observed>[]): ToolResult & { timing: Timings } {
  const measured = runs.filter((r) => !r.warmup);
  const ok = measured.filter((r) => r.error === undefined);
  const field = (f: "tokenRequests" | "registryRequests" | "connections" | "tagPages" | "tags" | "duplicates"): Count => count(ok.map((r) => r.observed[f]));
  const errors = [...new Set(runs.filter((r) => r.error !== undefined).map((r) => r.error ?? ""))];
  const timing = timings(runs);
  return {
    tool: contender.id,
    kind: contender.kind,
    command: contender.command,
    tags: field("tags"),
    complete: ok.length > 0 && ok.every((r) => r.observed.complete),
    inOrder: ok.length > 0 && ok.every((r) => r.observed.inOrder),
    duplicates: field("duplicates"),
    tokenRequests: field("tokenRequests"),
    registryRequests: field("registryRequests"),
    connections: field("connections"),
    tagPages: field("tagPages"),
    medianMs: timing.medianMs,
    minMs: timing.minMs,
    vsQuayside: null,
    runsMs: timing.runsMs,
    requests: ok[0]?.observed.requests ?? [],
    ...(errors.length > 0 ? { errors } : {}),
    timing,
  };
}

const COLUMNS: Column[] = [
  { header: "tool" },
  { header: "kind" },
  { header: "tags", align: "right" },
  { header: "complete" },
  { header: "token requests", align: "right" },
  { header: "registry requests", align: "right" },
  { header: "connections", align: "right" },
  { header: "median ms", align: "right" },
  { header: "min ms", align: "right" },
  { header: "vs quayside", align: "right" },
];

function tableRows(results: readonly ToolResult[], expected: number): string[][] {
  return results.map((r) => {
    const ran = r.runsMs.length > 0;
    const completeness = !ran
      ? `error: ${r.errors?.[0] ?? "no run"}`
      : r.complete
        ? r.inOrder && isExactly(r.duplicates, 0)
          ? "yes"
          : `yes, ${r.inOrder ? "" : "out of order"}${isExactly(r.duplicates, 0) ? "" : ` ${showCount(r.duplicates)} dup`}`.trim()
        : `NO (${showCount(r.tags)} of ${expected})`;
    return [
      r.tool,
      r.kind === "library" ? "in-process" : "process",
      ran ? showCount(r.tags) : "-",
      completeness,
      ran ? showCount(r.tokenRequests) : "-",
      ran ? showCount(r.registryRequests) : "-",
      ran ? showCount(r.connections) : "-",
      ran ? r.medianMs.toFixed(1) : "-",
      ran ? r.minMs.toFixed(1) : "-",
      r.vsQuayside === null ? "-" : `${r.vsQuayside.toFixed(2)}x`,
    ];
  });
}

async function run(options: BenchOptions): Promise<BenchOutcome> {
  const log = options.log;
  const runs = options.runs ?? DEFAULT_RUNS;
  await Promise.all([buildDist(options), ensurePeers(log)]);
  const [skopeoVersion, registryVersion] = await Promise.all([
    toolVersion("skopeo", ["--version"]),
    toolVersion("docker-registry", ["--version"]),
  ]);

  log("starting a token-auth registry, seeding 250 tags, starting the paging front ...");
  const env = await startTokenTagsEnvironment({ maxPage: MAX_PAGE });
  try {
    const expected = env.seeded.tags;
    const pages = Math.ceil(expected.length / MAX_PAGE);
    log(`ready in ${(env.setupMs / 1000).toFixed(1)} s: ${expected.length} tags in ${env.seeded.repository}, pages of ${MAX_PAGE} at ${env.pager.host}`);
    const list = contenders(env);
    const measured = await measure<string[], Observed>({
      contenders: list,
      runs,
      warmup: WARMUP,
      runTimeoutMs: RUN_TIMEOUT_MS,
      budgetMs: BUDGET_MS,
      reset: () => {
        env.tokenServer.reset();
        env.pager.reset();
      },
      observe: (tags) => observe(env, expected, tags),
      log,
    });

    // What starting Node alone costs here, to read the process rows against.
    const nodeStart: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = nowMs();
      await execOk(process.execPath, ["-e", "0"], { timeoutMs: RUN_TIMEOUT_MS });
      nodeStart.push(nowMs() - start);
    }
    const nodeStartMs = round1(median(nodeStart));

    const summaries = list.map((c) => summarize(c, measured.get(c.id) ?? []));
    const base: Record<Kind, number | undefined> = {
      library: summaries.find((s) => s.tool === QUAYSIDE_LIB)?.medianMs,
      process: summaries.find((s) => s.tool === QUAYSIDE_CLI)?.medianMs,
    };
    for (const s of summaries) {
      const b = base[s.kind];
      s.vsQuayside = b !== undefined && b > 0 && s.runsMs.length > 0 ? Math.round((s.medianMs / b) * 100) / 100 : null;
    }
    const results: ToolResult[] = summaries.map(({ timing: _timing, ...rest }) => rest);

    const goals = checkGoals(results, expected.length, pages);
    const rows = tableRows(results, expected.length);
    log("");
    log(`tag listing behind token auth: ${expected.length} tags, pages of at most ${MAX_PAGE} (${pages} pages), median of ${runs} runs after ${WARMUP} warm-up`);
    log(formatTable(COLUMNS, rows));
    log("vs quayside: median / the median of quayside of the same kind (in-process: the library; process: the CLI)");
    log(`for the process rows: starting Node alone (node -e 0) takes ${nodeStartMs.toFixed(1)} ms here (median of 5)`);
    if (options.markdown) log(`\n${formatMarkdownTable(COLUMNS, rows)}`);
    log("");
    logGoals(goals, log);

    const resultsFile = await writeResults(NAME, {
      benchmark: NAME,
      date: new Date().toISOString(),
      machine: machine(),
      setup: {
        registry: registryVersion,
        auth: "token (harness token server)",
        front: `harness paging proxy, pages of at most ${MAX_PAGE}, Link headers`,
        repository: env.seeded.repository,
        tags: expected.length,
        pages,
        runs,
        warmup: WARMUP,
        setupMs: Math.round(env.setupMs),
        nodeStartMs,
      },
      versions: { quayside: quaysideVersion(), skopeo: skopeoVersion, ...peerVersions() },
      results,
      goals,
    });
    log(`\nwrote ${resultsFile}`);
    return { ok: goalsOk(goals), resultsFile };
  } finally {
    await env.stop();
  }
}

const isQuayside = (r: ToolResult): boolean => r.tool.startsWith("quayside");

function checkGoals(results: readonly ToolResult[], expected: number, pages: number): Goal[] {
  const goals: Goal[] = [];
  const quayside = results.filter(isQuayside);
  const each = (pred: (r: ToolResult) => boolean, show: (r: ToolResult) => string) =>
    ({ met: quayside.length > 0 && quayside.every((r) => r.runsMs.length > 0 && !r.errors && pred(r)), detail: quayside.map((r) => `${r.tool} ${show(r)}`).join("; ") });
  goals.push({ goal: "quayside uses one token request for the whole listing", enforced: true, ...each((r) => isExactly(r.tokenRequests, 1), (r) => showCount(r.tokenRequests)) });
  goals.push({
    goal: `quayside makes pages + 1 = ${pages + 1} registry requests`,
    enforced: true,
    ...each((r) => isExactly(r.registryRequests, pages + 1), (r) => showCount(r.registryRequests)),
  });
  goals.push({
    // The TLS probe of the loopback front is a connection of its own, before the requests.
    goal: "quayside sends all its requests on one connection (and the https-first probe on another, where it probes)",
    enforced: true,
    ...each((r) => isExactly(r.connections, r.tool === QUAYSIDE_LIB_PLAIN ? 1 : 2), (r) => `${showCount(r.connections)}`),
  });
  goals.push({
    goal: `quayside lists all ${expected} tags, in order, none twice`,
    enforced: true,
    ...each((r) => r.complete && r.inOrder && isExactly(r.duplicates, 0), (r) => `${showCount(r.tags)} tags${r.complete ? "" : " (incomplete)"}`),
  });
  // Speed is compared with the listings that got every tag: a client that stops after the
  // first page does a third of the work, and that is a finding of its own, not a win.
  for (const kind of ["library", "process"] as const) {
    const mine = results.find((r) => r.tool === (kind === "library" ? QUAYSIDE_LIB : QUAYSIDE_CLI));
    const others = results.filter((r) => r.kind === kind && !isQuayside(r) && r.runsMs.length > 0);
    const rivals = others.filter((r) => r.complete);
    const partial = others.filter((r) => !r.complete);
    const faster = rivals.filter((r) => mine !== undefined && r.medianMs <= mine.medianMs);
    const show = (list: readonly ToolResult[]): string => list.map((r) => `${r.tool} ${r.medianMs.toFixed(1)} ms`).join(", ");
    const mineMs = mine !== undefined && mine.runsMs.length > 0 ? `${mine.medianMs.toFixed(1)} ms` : "no run";
    goals.push({
      goal: `${mine?.tool ?? kind} is the fastest ${kind === "library" ? "in-process client" : "command"} that lists every tag`,
      enforced: false,
      met: mine !== undefined && mine.runsMs.length > 0 && faster.length === 0,
      detail:
        `${mineMs}; ${faster.length === 0 ? `slower: ${show(rivals) || "none"}` : `as fast or faster: ${show(faster)}`}` +
        (partial.length > 0 ? `; incomplete listings, not compared: ${show(partial)}` : ""),
    });
  }
  return goals;
}

export const tagsToken: Benchmark = {
  name: NAME,
  description: "list 250 tags behind token auth through a 100-per-page front: quayside (library, CLI), skopeo, npm clients",
  run,
};
