/**
 * Uncaught exceptions and unhandled rejections, collected while watched: tests of failing copies
 * assert there were none (a stream error nobody listens to becomes one).
 */
export interface UncaughtWatch {
  /** What arrived since `start()` or the last `clear()`. */
  readonly errors: unknown[];
  start(): void;
  clear(): void;
  stop(): void;
}

export function watchUncaught(): UncaughtWatch {
  const errors: unknown[] = [];
  const collect = (err: unknown): void => void errors.push(err);
  return {
    errors,
    start() {
      process.on("uncaughtException", collect);
      process.on("unhandledRejection", collect);
    },
    clear() {
      errors.length = 0;
    },
    stop() {
      process.off("uncaughtException", collect);
      process.off("unhandledRejection", collect);
    },
  };
}
