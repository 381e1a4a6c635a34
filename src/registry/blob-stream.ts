/**
 * A blob download as one stream: the response body is piped straight into the verifier (no
 * per-chunk generator), and when the connection drops mid-body the rest is asked for with
 * `Range: bytes=N-` and piped into the same verifier.
 */
import { Transform, type Readable } from "node:stream";
import { bounded, NetworkError, ProtocolError, QuaysideError, redactUrl } from "../errors.js";
import { errorCode, isRetryableError, isStall } from "../http/retry.js";
import type { HttpResponse } from "../http/transport.js";

export interface ResumeOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((bytes: number) => void) | undefined;
  /** How many times a dropped connection is resumed. */
  resumeAttempts: number;
  /** Told before each resume: the number of this resume (1 for the first), the byte it starts at, why. */
  onResume?: ((resume: number, offset: number, cause: unknown) => void) | undefined;
}

/** Feed `first` (and any resumed responses) into `sink`, ending it when the blob is complete. */
export function pipeResumable(first: HttpResponse, request: (offset: number) => Promise<HttpResponse>, sink: Transform, options: ResumeOptions): void {
  let received = 0;
  let resumes = 0;
  let current: Readable | undefined;
  // The consumer gave up (or verification failed): stop reading the network.
  sink.once("close", () => current?.destroy());

  const follow = (response: HttpResponse): void => {
    // A 200 to a Range request starts over from byte 0: drop what we already passed on.
    const body = response.status === 200 && received > 0 ? skipFirst(response.body, received) : response.body;
    current = body;
    body.on("data", (chunk: Buffer) => {
      received += chunk.length;
      options.onProgress?.(received);
    });
    body.once("end", () => sink.end());
    body.once("error", (err) => {
      body.unpipe(sink);
      void resume(err);
    });
    body.pipe(sink, { end: false });
  };

  const resume = async (err: unknown): Promise<void> => {
    if (sink.destroyed) return;
    if (options.signal?.aborted || resumes >= options.resumeAttempts || !isRetryableError(err)) {
      sink.destroy(givingUp(err, first.url, received, resumes));
      return;
    }
    resumes++;
    options.onResume?.(resumes, received, err);
    try {
      const next = await request(received);
      if (next.status === 206 && !contentRangeStartsAt(next.header("content-range"), received)) {
        await next.dump();
        throw new ProtocolError(`resumed blob download did not start at byte ${received}`);
      }
      follow(next);
    } catch (error) {
      sink.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  };

  follow(first);
}

/**
 * The error a reader of the blob gets: ours as they are; a bare socket error (undici's "other side
 * closed") said as what it is, against the blob's URL, so that whoever reads the blob (an upload
 * to another registry, a file) reports the source, not itself.
 */
function givingUp(err: unknown, url: string, received: number, resumes: number): Error {
  if (err instanceof QuaysideError) return err;
  const code = errorCode(err);
  const what = isStall(err) ? "stalled" : "connection dropped";
  const tries = resumes > 0 ? ` after ${resumes} resume${resumes > 1 ? "s" : ""}` : "";
  const detail = err instanceof Error ? err.message : String(err);
  return new NetworkError(`GET ${bounded(redactUrl(url))}: ${what} at byte ${received}${tries} (${code ? `${code}: ` : ""}${bounded(detail, 100)})`, {
    cause: err,
    ...(isStall(err) ? { code: "TIMEOUT" } : {}),
  });
}

function skipFirst(source: Readable, bytes: number): Readable {
  let skip = bytes;
  const skipper = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        callback();
        return;
      }
      const rest = chunk.subarray(skip);
      skip = 0;
      callback(null, rest);
    },
  });
  source.once("error", (err) => skipper.destroy(err));
  return source.pipe(skipper);
}

function contentRangeStartsAt(header: string | undefined, offset: number): boolean {
  const match = /^bytes (\d+)-/.exec(header ?? "");
  return match !== null && Number(match[1]) === offset;
}
