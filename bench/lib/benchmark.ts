/** What bench/run.ts needs to know about a benchmark. */

export interface BenchOptions {
  /** Measured rounds (default: the benchmark's own). */
  runs?: number;
  /** Build what a benchmark runs (e.g. dist/ for the CLI) first; false: use what is there. */
  build: boolean;
  /** Also print the result table as Markdown (for bench/README.md). */
  markdown: boolean;
  /** Also profile one in-process run (benchmarks that have one) and print its top self-time functions. */
  cpuProfile?: boolean;
  log(line: string): void;
}

export interface BenchOutcome {
  /** False when a goal the benchmark checks (beyond timings) was not met. */
  ok: boolean;
  /** Where the results were written. */
  resultsFile: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<BenchOutcome>;
}

/** A goal a benchmark checks: request counts and correctness are enforced, timings only reported. */
export interface Goal {
  goal: string;
  met: boolean;
  detail: string;
  /** Timing goals are reported, not enforced: they depend on the machine. */
  enforced: boolean;
}

export function logGoals(goals: readonly Goal[], log: (line: string) => void): void {
  for (const g of goals) log(`${g.met ? "MET " : g.enforced ? "FAIL" : "MISS"}  ${g.goal}: ${g.detail}`);
}

/** A run is ok when every enforced goal is met. */
export function goalsOk(goals: readonly Goal[]): boolean {
  return goals.every((g) => g.met || !g.enforced);
}
