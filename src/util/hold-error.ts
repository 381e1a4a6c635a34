/**
 * Streams that may fail before anyone reads them. The copy engine opens a source blob while the
 * destination opens its upload, a docker archive queues pushes, a layout checks for the file
 * first: meanwhile a small blob can arrive whole, fail verification and emit 'error' with no
 * listener, which Node turns into an uncaught exception.
 */
import type { Readable } from "node:stream";

/** Shared, so that holding a stream twice adds no second listener. */
const ignore = (): void => undefined;

/**
 * Keeps an early error for the consumer instead of throwing it: the stream stays destroyed with
 * the error in `stream.errored`, where pipeline(), finished(), async iteration and undici find it
 * when they attach. Consumers must use one of those (not a bare on("data")), as every one here does.
 */
export function holdError<T extends Pick<Readable, "on" | "listeners">>(stream: T): T {
  if (!stream.listeners("error").includes(ignore)) stream.on("error", ignore);
  return stream;
}
