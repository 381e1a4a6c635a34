/** Run async work with at most `concurrency` tasks in flight; the first failure stops new starts and is rethrown once all in-flight work settled. */
export async function forEachLimit<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * The same over an async iterable that is still arriving (pages of a listing): workers take the
 * next item as they free up, so work on the first page overlaps the fetch of the next. The first
 * failure stops new starts, closes the iterable, and is rethrown once in-flight work settled.
 */
export async function forEachLimitAsync<T>(items: AsyncIterable<T>, concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  let failure: { error: unknown } | undefined;
  let done = false;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !done) {
      let next: IteratorResult<T>;
      try {
        // An async generator queues concurrent next() calls: each worker gets its own item.
        next = await iterator.next();
      } catch (error) {
        failure ??= { error };
        return;
      }
      if (next.done === true) {
        done = true;
        return;
      }
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  if (failure !== undefined) {
    await iterator.return?.().catch(() => undefined);
    throw failure.error;
  }
}
