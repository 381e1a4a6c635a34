/** Wall-clock timing and the few statistics the benchmarks report. */

/** Milliseconds since an arbitrary origin, monotonic, sub-millisecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface Timed<T> {
  value: T;
  ms: number;
}

/** Runs fn once and measures its wall time, whether it resolves or rejects. */
export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const start = nowMs();
  const value = await fn();
  return { value, ms: nowMs() - start };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? Number.NaN;
  const lo = sorted[mid - 1] ?? hi;
  return sorted.length % 2 === 1 ? hi : (lo + hi) / 2;
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

/** Rounds to one decimal, for tables and results files. */
export const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Rejects after `ms` unless the promise settles first; `onTimeout` may cancel the work
 * (abort a request, kill a process). Every wait in the benchmarks goes through this or
 * through an AbortSignal / child-process timeout, so nothing hangs forever.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no result within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
