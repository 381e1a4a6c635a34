/**
 * Blob uploads (distribution spec "push"): skip when present, cross-repository mount,
 * monolithic POST ?digest= or POST + PUT, streamed PATCH with the digest computed on the
 * way, and chunked PATCH with Content-Range that resumes from the server's Range.
 */
import { pipeline, Readable, Transform } from "node:stream";
import { repositoryScope, type Scope } from "../auth/scope.js";
import { createVerifyingStream, DigestHasher, digestOf, parseDigest, verifiedContent } from "../digest/digest.js";
import { DigestMismatchError, NetworkError, ProtocolError, QuaysideError, RegistryError } from "../errors.js";
import { errorCode, isRetryableError, isRetryableStatus, retryDelay } from "../http/retry.js";
import { backoff, throwIfAborted, type HttpResponse } from "../http/transport.js";
import type { Descriptor } from "../media/types.js";
import { countingStream } from "../util/streams.js";
import { holdError } from "../util/hold-error.js";
import { blobExists, headBlob } from "./blobs.js";
import type { RegistrySession, RequestOptions } from "./session.js";

export interface BlobUploadOptions extends RequestOptions {
  /** The blob's digest, if known: enables the existence check, mounts and a one-request upload. */
  digest?: string;
  /** The blob's size, if known: lets a stream go up in one PUT. */
  size?: number;
  mediaType?: string;
  /** Upload in PATCH chunks of this many bytes (bounded memory, resumable). */
  chunkSize?: number;
  /** Try a cross-repository mount from this repository of the same registry first. */
  mountFrom?: string;
  /** Check with HEAD first and skip the upload if the blob is there. Default true. */
  skipExisting?: boolean;
  onProgress?: (bytes: number) => void;
  /**
   * The content once more, from its first byte, for another attempt after the registry failed the
   * upload (a 429 or 5xx, a dropped connection, a stall): a new session, the bytes sent again. The
   * copy engine fetches the source blob again. Without it a stream goes up once; bytes always may.
   */
  reopen?: (() => Promise<Readable>) | undefined;
}

export type UploadOutcome = "uploaded" | "skipped" | "mounted";

export interface BlobUploadResult {
  descriptor: Descriptor;
  outcome: UploadOutcome;
}

/** Small in-memory blobs try the single-request monolithic POST first. */
const MONOLITHIC_POST_LIMIT = 1024 * 1024;
const MAX_CHUNK_RESUMES = 3;

/**
 * What uploadBlob sends: bytes, a stream, or a stream still being opened. A pending stream
 * (needs options.digest) is awaited only once the upload session is open, so the two round
 * trips overlap. When the blob turns out to be there already (skipped, mounted), a stream is
 * read to its end and a pending one destroyed; after a failure, a stream is the caller's to destroy.
 */
export type BlobSource = Uint8Array | Readable | Promise<Readable>;

export async function uploadBlob(session: RegistrySession, repository: string, source: BlobSource, options: BlobUploadOptions = {}): Promise<BlobUploadResult> {
  // Settled below; a rejection while the POST is in flight is not an unhandled one, and a stream
  // that fails meanwhile keeps its error for the request that reads it (not an uncaught exception).
  if (source instanceof Promise) void source.then(holdError, () => undefined);
  else if (source instanceof Readable) holdError(source);
  if (options.digest !== undefined) parseDigest(options.digest);
  if (source instanceof Promise && options.digest === undefined) throw new TypeError("uploadBlob: a pending stream needs options.digest");
  const known = resolveKnownDigest(source, options);
  const mediaType = options.mediaType ?? "application/octet-stream";

  if (known !== undefined && options.skipExisting !== false && (await blobExists(session, repository, known.digest, options))) {
    drain(source);
    return { descriptor: { mediaType, digest: known.digest, size: known.size ?? -1 }, outcome: "skipped" };
  }

  // The registry failing an upload (429, 5xx, a drop, a stall) is worth another session with the
  // bytes sent again; the source failing is not (its reads resume on their own), and says so.
  const policy = session.http.retryPolicy;
  let content = source;
  for (let attempt = 0; ; attempt++) {
    const sourceFailure = watchSource(content);
    try {
      return await uploadOnce(session, repository, content, known, mediaType, options);
    } catch (err) {
      if (sourceFailure.error !== undefined) {
        if (content !== source) discardSource(content);
        throw sourceFailure.error;
      }
      const again = attempt < policy.retries && isRegistryFault(err) && !options.signal?.aborted ? replay(content, options) : undefined;
      if (again === undefined) {
        // The caller destroys what it gave; what was opened here is ours to let go.
        if (content !== source) discardSource(content);
        throw err;
      }
      const delayMs = retryDelay(policy, attempt, err instanceof RegistryError ? err.retryAfterMs : undefined);
      session.http.notifyRetry({
        method: "upload",
        url: `${session.baseUrl}/v2/${repository}/blobs/${known?.digest ?? "uploads/"}`,
        reason: err instanceof RegistryError ? "status" : err instanceof NetworkError && err.code === "TIMEOUT" ? "stalled" : "network",
        what: `failed (${faultLabel(err)})`,
        attempt: attempt + 2,
        attempts: policy.retries + 1,
        delayMs,
        ...(err instanceof RegistryError ? { status: err.status } : {}),
      });
      discardSource(content);
      if (again instanceof Promise) again.catch(() => undefined); // awaited in the next attempt; a rejection meanwhile is not unhandled
      content = again;
      await backoff(delayMs, options.signal);
    }
  }
}

/** One upload session: mount or open it, send the content, close it; on failure the session is cancelled. */
async function uploadOnce(
  session: RegistrySession,
  repository: string,
  source: BlobSource,
  known: { digest: string; size?: number } | undefined,
  mediaType: string,
  options: BlobUploadOptions,
): Promise<BlobUploadResult> {
  const scopes = uploadScopes(repository, options.mountFrom);
  const base = `/v2/${repository}/blobs/uploads/`;
  throwIfAborted(options.signal);
  // The POSTs that open a session are not abandoned on an abort: the registry would keep a session
  // we never learnt the Location of. They are short (the small-request deadline bounds them); a
  // session opened after the abort is cancelled at once.
  // Opening a session changes nothing a second POST would not: retried like an idempotent request.
  let location: string;
  if (known !== undefined && options.mountFrom !== undefined && options.mountFrom !== repository) {
    const query = new URLSearchParams({ mount: known.digest, from: options.mountFrom });
    const response = await session.send({ method: "POST", path: `${base}?${query}`, scopes, expect: [201, 202], retry: true });
    await response.dump();
    if (response.status === 201) {
      drain(source);
      checkServedDigest(response, known.digest);
      const size = known.size ?? (await headBlob(session, repository, known.digest, options)).size;
      return { descriptor: { mediaType, digest: known.digest, size }, outcome: "mounted" };
    }
    location = requireLocation(response);
  } else if (source instanceof Uint8Array && known !== undefined && source.length <= MONOLITHIC_POST_LIMIT && session.capabilities.monolithicPost !== false) {
    const response = await session.send({
      method: "POST",
      path: `${base}?${new URLSearchParams({ digest: known.digest })}`,
      scopes,
      headers: { "content-type": "application/octet-stream" },
      body: source,
      expect: [201, 202],
      retry: true,
    });
    await response.dump();
    if (response.status === 201) {
      session.capabilities.monolithicPost = true;
      checkServedDigest(response, known.digest);
      options.onProgress?.(source.length);
      return { descriptor: { mediaType, digest: known.digest, size: source.length }, outcome: "uploaded" };
    }
    // The server ignored the body and opened a session instead: remember, and upload into it.
    session.capabilities.monolithicPost = false;
    location = requireLocation(response);
  } else {
    const response = await session.send({ method: "POST", path: base, scopes, expect: [202], retry: true });
    await response.dump();
    location = requireLocation(response);
  }
  if (options.signal?.aborted) {
    await cancelUpload(session, location, scopes);
    throwIfAborted(options.signal);
  }

  // From here on a session is open: whatever fails (the source not opening, bad bytes, the PUT)
  // cancels it, so no half-written upload lingers in the registry.
  try {
    const content = source instanceof Promise ? await source : source;
    // Failed before a byte was sent (a small blob that did not verify): say so, send nothing.
    if (content instanceof Readable && content.errored) throw content.errored;
    const descriptor =
      options.chunkSize !== undefined
        ? await uploadChunked(session, location, content, scopes, options, mediaType)
        : content instanceof Uint8Array
          ? await putWhole(session, location, content, known?.digest ?? digestOf(content), scopes, options, mediaType)
          : known?.size !== undefined
            ? await putWhole(session, location, content, known.digest, scopes, options, mediaType, known.size)
            : await patchStreamThenPut(session, location, content, scopes, options, mediaType);
    return { descriptor, outcome: "uploaded" };
  } catch (err) {
    await cancelUpload(session, location, scopes);
    throw err;
  }
}

/**
 * DELETE an upload session that will not be finished, best effort. Without the caller's signal: it
 * runs after an abort too (its deadline bounds it). The first Location is enough for distribution.
 * (distribution refuses it, 404 BLOB_UPLOAD_INVALID, for a session whose last request was cut
 * mid-body: its stored bytes no longer match the offset in the Location, which every request on
 * the session checks; such a session stays until the registry's upload purging removes it.)
 */
async function cancelUpload(session: RegistrySession, location: string, scopes: readonly Scope[]): Promise<void> {
  await session
    .send({ method: "DELETE", path: location, scopes, expect: [204, 404] })
    .then((response) => response.dump())
    .catch(() => undefined);
}

/**
 * What the source itself reported while being sent: quayside's own errors (a digest or size that
 * does not match, a source registry that kept failing). A bare socket error on the stream is the
 * destination's, passed back into the body when its request failed.
 */
function watchSource(content: BlobSource): { error?: QuaysideError } {
  const seen: { error?: QuaysideError } = {};
  const watch = (stream: Readable): void => {
    stream.on("error", (err) => {
      if (err instanceof QuaysideError) seen.error ??= err;
    });
  };
  if (content instanceof Readable) watch(content);
  else if (content instanceof Promise) content.then(watch, (err: unknown) => {
    if (err instanceof QuaysideError) seen.error ??= err;
  });
  return seen;
}

/** A failure of the registry we upload to that another session may not meet. */
function isRegistryFault(err: unknown): boolean {
  if (err instanceof RegistryError) return isRetryableStatus(err.status);
  return err instanceof NetworkError && (err.code === "TIMEOUT" || isRetryableError(err.cause));
}

/** Why a request failed, in a word or two: "HTTP 503", "ECONNRESET", "stalled". */
function faultLabel(err: unknown): string {
  if (err instanceof RegistryError) return `HTTP ${err.status}`;
  if (err instanceof NetworkError) return err.code === "TIMEOUT" ? "stalled" : (errorCode(err.cause) ?? err.code);
  return errorCode(err) ?? "error";
}

/** The content for another attempt: the same bytes, the source opened again, or nothing (a stream sent once). */
function replay(content: BlobSource, options: BlobUploadOptions): Promise<Readable> | Uint8Array | undefined {
  if (content instanceof Uint8Array) return content;
  return options.reopen?.();
}

function discardSource(content: BlobSource): void {
  if (content instanceof Readable) content.destroy();
  else if (content instanceof Promise) void content.then((stream) => stream.destroy(), () => undefined);
}

function resolveKnownDigest(source: BlobSource, options: BlobUploadOptions): { digest: string; size?: number } | undefined {
  if (source instanceof Uint8Array) {
    const algorithm = options.digest !== undefined ? parseDigest(options.digest).algorithm : "sha256";
    const actual = digestOf(source, algorithm);
    if (options.digest !== undefined && actual !== options.digest) throw new DigestMismatchError(options.digest, actual, "blob to upload");
    return { digest: actual, size: source.length };
  }
  if (options.digest === undefined) return undefined;
  return { digest: options.digest, ...(options.size !== undefined ? { size: options.size } : {}) };
}

function uploadScopes(repository: string, mountFrom: string | undefined): Scope[] {
  const scopes = [repositoryScope(repository, "pull", "push")];
  if (mountFrom !== undefined && mountFrom !== repository) scopes.push(repositoryScope(mountFrom, "pull"));
  return scopes;
}

/** One PUT carrying the whole blob, verified on the way when it streams. */
async function putWhole(
  session: RegistrySession,
  location: string,
  source: Uint8Array | Readable,
  digest: string,
  scopes: readonly Scope[],
  options: BlobUploadOptions,
  mediaType: string,
  size?: number,
): Promise<Descriptor> {
  const length = source instanceof Uint8Array ? source.length : (size as number);
  const body = source instanceof Uint8Array ? source : verifiedWithProgress(source, digest, length, options.onProgress);
  const response = await session.send({
    method: "PUT",
    path: withDigest(location, digest),
    scopes,
    headers: { "content-type": "application/octet-stream", "content-length": String(length) },
    body,
    expect: [201],
    transfer: true,
    signal: options.signal,
  });
  await response.dump();
  checkServedDigest(response, digest);
  if (source instanceof Uint8Array) options.onProgress?.(length);
  return { mediaType, digest, size: length };
}

/** Unknown digest: stream the body in one PATCH while hashing, then close the upload with the digest we computed. */
async function patchStreamThenPut(
  session: RegistrySession,
  location: string,
  source: Readable,
  scopes: readonly Scope[],
  options: BlobUploadOptions,
  mediaType: string,
): Promise<Descriptor> {
  const hasher = new DigestHasher();
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hasher.update(chunk);
      options.onProgress?.(hasher.bytes);
      callback(null, chunk);
    },
  });
  source.on("error", (err) => hashing.destroy(err));
  const patched = await session.send({
    method: "PATCH",
    path: location,
    scopes,
    headers: { "content-type": "application/octet-stream" },
    body: source.pipe(hashing),
    expect: [202],
    transfer: true,
    signal: options.signal,
  });
  await patched.dump();
  const digest = hasher.digest();
  const closed = await session.send({ method: "PUT", path: withDigest(requireLocation(patched), digest), scopes, expect: [201], transfer: true, signal: options.signal });
  await closed.dump();
  checkServedDigest(closed, digest);
  return { mediaType, digest, size: hasher.bytes };
}

/**
 * PATCH chunks with Content-Range. Memory holds one chunk; after a 416 or a dropped
 * connection the server's Range says where to go on from, within the current chunk.
 */
async function uploadChunked(
  session: RegistrySession,
  firstLocation: string,
  source: Uint8Array | Readable,
  scopes: readonly Scope[],
  options: BlobUploadOptions,
  mediaType: string,
): Promise<Descriptor> {
  const chunkSize = options.chunkSize as number;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError("chunkSize must be a positive integer");
  const hasher = new DigestHasher(options.digest !== undefined ? parseDigest(options.digest).algorithm : "sha256");
  let location = firstLocation;
  let offset = 0;
  for await (const chunk of chunksOf(source, chunkSize)) {
    hasher.update(chunk);
    let sent = 0;
    for (let resumes = 0; sent < chunk.length; ) {
      const part = chunk.subarray(sent);
      const start = offset + sent;
      try {
        const response = await session.send({
          method: "PATCH",
          path: location,
          scopes,
          headers: {
            "content-type": "application/octet-stream",
            "content-range": `${start}-${start + part.length - 1}`,
            "content-length": String(part.length),
          },
          body: part,
          expect: [202],
          transfer: true,
          signal: options.signal,
        });
        await response.dump();
        location = requireLocation(response);
        sent = chunk.length;
      } catch (err) {
        const outOfStep = err instanceof RegistryError && err.status === 416;
        if (!(outOfStep || isRegistryFault(err)) || resumes >= MAX_CHUNK_RESUMES || options.signal?.aborted) throw err;
        // A 429, 5xx or drop: wait as for any retry (Retry-After honoured), then ask where the server is.
        if (!outOfStep) {
          const delayMs = retryDelay(session.http.retryPolicy, resumes, err instanceof RegistryError ? err.retryAfterMs : undefined);
          session.http.notifyRetry({
            method: "PATCH",
            url: session.resolve(location),
            reason: err instanceof RegistryError ? "status" : "network",
            what: `failed at byte ${start} (${faultLabel(err)}), resuming from the server's Range`,
            attempt: resumes + 2,
            attempts: MAX_CHUNK_RESUMES + 1,
            delayMs,
          });
          await backoff(delayMs, options.signal);
        }
        resumes++;
        const status = await uploadStatus(session, location, scopes, options);
        location = status.location;
        if (status.next < offset || status.next > offset + chunk.length) {
          throw new ProtocolError(`upload resume: the server has ${status.next} bytes, outside the chunk at ${offset}-${offset + chunk.length - 1}`);
        }
        sent = status.next - offset;
      }
    }
    offset += chunk.length;
    options.onProgress?.(offset);
  }
  const digest = hasher.digest();
  if (options.digest !== undefined && digest !== options.digest) throw new DigestMismatchError(options.digest, digest, "uploaded blob");
  const closed = await session.send({ method: "PUT", path: withDigest(location, digest), scopes, expect: [201], transfer: true, signal: options.signal });
  await closed.dump();
  checkServedDigest(closed, digest);
  return { mediaType, digest, size: offset };
}

/** GET on an upload session: 204 with `Range: 0-N` (the bytes it holds) and a fresh Location. */
async function uploadStatus(session: RegistrySession, location: string, scopes: readonly Scope[], options: RequestOptions): Promise<{ next: number; location: string }> {
  const response = await session.send({ method: "GET", path: location, scopes, expect: [204], signal: options.signal });
  await response.dump();
  const range = /^(?:bytes=)?0-(\d+)$/.exec(response.header("range") ?? "");
  return { next: range ? Number(range[1]) + 1 : 0, location: response.header("location") ?? location };
}

async function* chunksOf(source: Uint8Array | Readable, size: number): AsyncGenerator<Buffer> {
  if (source instanceof Uint8Array) {
    for (let i = 0; i < source.length; i += size) yield Buffer.from(source.buffer, source.byteOffset + i, Math.min(size, source.length - i));
    return;
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const data of source) {
    let buf = data as Buffer;
    while (buf.length > 0) {
      const take = Math.min(size - pendingBytes, buf.length);
      pending.push(buf.subarray(0, take));
      pendingBytes += take;
      buf = buf.subarray(take);
      if (pendingBytes === size) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** The upload body: verified on the way, unless the source already verifies the same digest and size (no second hash). */
function verifiedWithProgress(source: Readable, digest: string, size: number, onProgress?: (bytes: number) => void): Readable {
  const checked = verifiedContent(source);
  const stages: Transform[] = [];
  if (checked?.digest !== digest || checked.size !== size) stages.push(createVerifyingStream(digest, { expectedSize: size, what: "blob upload" }));
  if (onProgress) stages.push(countingStream(onProgress));
  const last = stages[stages.length - 1];
  if (last === undefined) return source;
  // pipeline() destroys every stage on a failure, so the request body errors and the PUT never completes.
  pipeline([source, ...stages], () => undefined);
  return last;
}

function drain(source: BlobSource): void {
  if (source instanceof Readable) source.resume();
  else if (source instanceof Promise) void source.then((stream) => stream.destroy(), () => undefined);
}

function requireLocation(response: HttpResponse): string {
  const location = response.header("location");
  if (!location) throw new ProtocolError(`${response.url}: upload answer without a Location header`);
  return location;
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location, "http://placeholder");
  url.searchParams.set("digest", digest);
  return /^[a-z]+:\/\//i.test(location) ? url.toString() : `${url.pathname}${url.search}`;
}

function checkServedDigest(response: HttpResponse, digest: string): void {
  const served = response.header("docker-content-digest");
  if (served !== undefined && served !== digest) throw new DigestMismatchError(digest, served, "blob the registry stored");
}
