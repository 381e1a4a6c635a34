/**
 * Blobs by digest: HEAD, existence, GET as a verifying stream (resumed with Range when the
 * connection drops), small blobs whole, DELETE, and cross-repository mount. Uploads are uploads.ts.
 */
import type { Transform } from "node:stream";
import { repositoryScope } from "../auth/scope.js";
import { createVerifyingStream, parseDigest } from "../digest/digest.js";
import { ProtocolError } from "../errors.js";
import { errorCode, isStall } from "../http/retry.js";
import type { Descriptor } from "../media/types.js";
import { BLOB_BYTES_LIMIT } from "../util/limits.js";
import { readAll } from "../util/streams.js";
import { pipeResumable } from "./blob-stream.js";
import { mediaTypeOf, sendDelete, type RegistrySession, type RequestOptions } from "./session.js";

export interface BlobReadOptions extends RequestOptions {
  expectedSize?: number;
  /** Called with the running byte count as data arrives. */
  onProgress?: (bytes: number) => void;
  /** How many times a dropped connection is resumed with a Range request. Default 3. */
  resumeAttempts?: number;
}

/** HEAD a blob: its size. Throws a not-found RegistryError if absent. */
export async function headBlob(session: RegistrySession, repository: string, digest: string, options: RequestOptions = {}): Promise<Descriptor> {
  parseDigest(digest);
  const response = await session.send({
    method: "HEAD",
    path: `/v2/${repository}/blobs/${digest}`,
    scopes: [repositoryScope(repository, "pull")],
    expect: [200],
    signal: options.signal,
  });
  await response.dump();
  const size = Number(response.header("content-length"));
  if (!Number.isSafeInteger(size) || size < 0) throw new ProtocolError(`HEAD blob ${digest}: no valid Content-Length`);
  return { mediaType: mediaTypeOf(response.header("content-type")) ?? "application/octet-stream", digest, size };
}

export async function blobExists(session: RegistrySession, repository: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
  try {
    await headBlob(session, repository, digest, options);
    return true;
  } catch (err) {
    if (err instanceof Error && "category" in err && err.category === "not-found") return false;
    throw err;
  }
}

/**
 * Stream a blob. The stream errors (DigestMismatchError / SizeMismatchError) instead of
 * ending if the bytes are not the ones asked for; a dropped connection is resumed with Range.
 */
export async function getBlob(session: RegistrySession, repository: string, digest: string, options: BlobReadOptions = {}): Promise<Transform> {
  parseDigest(digest);
  const request = (offset: number) =>
    session.send({
      method: "GET",
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [repositoryScope(repository, "pull")],
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      expect: offset > 0 ? [200, 206] : [200],
      transfer: true,
      signal: options.signal,
    });
  const first = await request(0);
  const verifier = createVerifyingStream(digest, {
    what: `blob ${repository}@${digest}`,
    ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
  });
  const resumeAttempts = options.resumeAttempts ?? 3;
  pipeResumable(first, request, verifier, {
    signal: options.signal,
    onProgress: options.onProgress,
    resumeAttempts,
    onResume: (resume, offset, cause) =>
      session.http.notifyRetry({
        method: "GET",
        url: first.url,
        reason: isStall(cause) ? "stalled" : "network",
        what: `${isStall(cause) ? `stalled ${session.http.timeoutMs / 1000} s` : `dropped (${errorCode(cause) ?? "network error"})`} at byte ${offset}`,
        attempt: resume + 1,
        attempts: resumeAttempts + 1,
        delayMs: 0,
      }),
  });
  return verifier;
}

/** A whole (small) blob in memory, verified: configs and the like. */
export async function getBlobBytes(session: RegistrySession, repository: string, digest: string, options: BlobReadOptions & { limit?: number } = {}): Promise<Uint8Array> {
  const stream = await getBlob(session, repository, digest, options);
  return readAll(stream, options.limit ?? BLOB_BYTES_LIMIT, `blob ${repository}@${digest}`);
}

export async function deleteBlob(session: RegistrySession, repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
  parseDigest(digest);
  await sendDelete(session, `/v2/${repository}/blobs/${digest}`, repository, options);
}

/** Cross-repository mount of one blob; resolves false (and opens no upload) when the registry declines. */
export async function mountBlob(session: RegistrySession, repository: string, from: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
  const scopes = [repositoryScope(repository, "pull", "push"), repositoryScope(from, "pull")];
  const query = new URLSearchParams({ mount: digest, from });
  const response = await session.send({ method: "POST", path: `/v2/${repository}/blobs/uploads/?${query}`, scopes, expect: [201, 202], retry: true, signal: options.signal });
  await response.dump();
  if (response.status === 201) return true;
  // 202 opened an upload session we will not use: cancel it so it does not linger.
  const location = response.header("location");
  if (location) await session.send({ method: "DELETE", path: location, scopes, expect: [204, 404], signal: options.signal }).then((r) => r.dump(), () => undefined);
  return false;
}
