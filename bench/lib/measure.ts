/**
 * The measuring loop every benchmark shares: contenders take turns (the order rotates each
 * round, so none always runs first or right after another), warm-up rounds are run and
 * reported but not counted, every run has a time limit, and the whole loop a time budget.
 */
import { median, min, nowMs, round1, withTimeout } from "./timing.js";

/** "library": called in this process; "process": a command started per run. */
export type Kind = "library" | "process";

export interface Contender<R> {
  id: string;
  kind: Kind;
  /** How it is called, for the report; never with a secret in it. */
  command: string;
  /** One run with fresh state: a new client or a new process. */
  run(signal: AbortSignal): Promise<R>;
}

export interface Run<O> {
  round: number;
  warmup: boolean;
  ms: number;
  observed: O;
  error?: string;
}

export interface MeasureOptions<R, O> {
  contenders: readonly Contender<R>[];
  /** Measured rounds. */
  runs: number;
  /** Rounds run first and not counted (module loading, JIT, page cache). */
  warmup: number;
  runTimeoutMs: number;
  /** No new round starts after this long (at least one measured round always runs). */
  budgetMs: number;
  /** Called before each run: reset the counters. */
  reset(): void;
  /**
   * Awaited before each run, outside its timing (e.g. start a fresh destination). Bounded by
   * the caller. A failure stops the loop: every later run would meet the same broken setup.
   */
  prepare?(contender: Contender<R>): Promise<void>;
  /** Called after each run, also a failed one: read the counters and check the result (may be async, outside the timing). */
  observe(result: R | undefined, contender: Contender<R>): O | Promise<O>;
  /** Awaited after observe(), outside the timing, also after a failed run (e.g. stop what prepare() started). */
  cleanup?(contender: Contender<R>): Promise<void>;
  /** Appended to a run's progress line (e.g. what the run's check found). */
  describe?(observed: O): string;
  log(line: string): void;
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

export async function measure<R, O>(options: MeasureOptions<R, O>): Promise<Map<string, Run<O>[]>> {
  const { contenders, runs, warmup } = options;
  const results = new Map<string, Run<O>[]>(contenders.map((c) => [c.id, []]));
  // A contender that failed its warm-up, or overran its time limit (it may still be running), is not run again.
  const retired = new Set<string>();
  const started = nowMs();
  for (let round = 0; round < warmup + runs; round++) {
    if (round > warmup && nowMs() - started > options.budgetMs) {
      options.log(`time budget of ${options.budgetMs / 1000} s spent: stopping after ${round - warmup} measured rounds`);
      break;
    }
    const shift = round % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    const isWarmup = round < warmup;
    for (const contender of order) {
      if (retired.has(contender.id)) continue;
      options.reset();
      await options.prepare?.(contender);
      const controller = new AbortController();
      let result: R | undefined;
      let error: string | undefined;
      let overran = false;
      const start = nowMs();
      try {
        result = await withTimeout(contender.run(controller.signal), options.runTimeoutMs, contender.id, () => {
          overran = true;
          controller.abort();
        });
      } catch (e) {
        error = errorMessage(e);
      }
      const ms = nowMs() - start;
      let observed: O;
      try {
        observed = await options.observe(result, contender);
      } finally {
        await options.cleanup?.(contender);
      }
      const run: Run<O> = { round, warmup: isWarmup, ms, observed, ...(error !== undefined ? { error } : {}) };
      results.get(contender.id)?.push(run);
      options.log(`${isWarmup ? "warm-up" : `round ${round - warmup + 1}/${runs}`}  ${contender.id.padEnd(34)} ${round1(ms).toFixed(1).padStart(8)} ms${error !== undefined ? `  ERROR ${error}` : ""}${options.describe ? `  ${options.describe(observed)}` : ""}`);
      if (overran || (error !== undefined && isWarmup)) retired.add(contender.id);
    }
  }
  return results;
}

export interface Timings {
  /** Measured runs that succeeded. */
  runs: number;
  medianMs: number;
  minMs: number;
  runsMs: number[];
}

/** Median and min over the measured (not warm-up) runs that succeeded. */
export function timings<O>(runs: readonly Run<O>[]): Timings {
  const ms = runs.filter((r) => !r.warmup && r.error === undefined).map((r) => r.ms);
  return { runs: ms.length, medianMs: round1(median(ms)), minMs: round1(min(ms)), runsMs: ms.map(round1) };
}
