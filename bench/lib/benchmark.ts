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
