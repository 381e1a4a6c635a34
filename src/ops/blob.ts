/** Blob operations on a registry repository: size, pull (to a file or as a stream), push, mount, delete, hashing. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DigestHasher, digestOf } from "../digest/digest.js";
import { NotFoundError, UsageError } from "../errors.js";
import { parseReference, parseRepository, type Reference } from "../ref/reference.js";
import type { UploadOutcome } from "../registry/uploads.js";
import { writeStreamAtomic } from "../util/atomic-file.js";
import { unreadableFile } from "../util/unreadable.js";
import { ClientPool, withPool, type OperationOptions } from "./pool.js";

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface BlobTransferOptions extends OperationOptions {
  /** Bytes moved so far, of `total`. */
  onProgress?: ((bytes: number, total: number) => void) | undefined;
}

/** The size of the blob REPO@DIGEST (one HEAD). */
export function blobSize(reference: string, options: OperationOptions = {}): Promise<BlobInfo> {
  const ref = blobReference(reference);
  return withPool(options, async (pool) => {
    const { digest, size } = await pool.client(ref.registry).headBlob(ref.repository, ref.digest as string, options);
    return { digest, size };
  });
}

export interface PullBlobResult extends BlobInfo {
  /** The file written, when the destination was a path. */
  path?: string;
}

/**
 * Download the blob REPO@DIGEST, verified, into a file (written to a temporary name and renamed
 * when complete: a failed download leaves nothing) or a stream (left open: stdout, say).
 */
export function pullBlob(reference: string, destination: string | Writable, options: BlobTransferOptions = {}): Promise<PullBlobResult> {
  const ref = blobReference(reference);
  const digest = ref.digest as string;
  return withPool(options, async (pool) => {
    const client = pool.client(ref.registry);
    const { size } = await client.headBlob(ref.repository, digest, options);
    options.onProgress?.(0, size);
    const onProgress = options.onProgress;
    const stream = await client.getBlob(ref.repository, digest, { signal: options.signal, expectedSize: size, ...(onProgress ? { onProgress: (bytes: number) => onProgress(bytes, size) } : {}) });
    if (typeof destination === "string") {
      await writeStreamAtomic(destination, stream);
      return { digest, size, path: destination };
    }
    await pipeline(stream, destination, { end: false });
    return { digest, size };
  });
}

export interface PushBlobOptions extends BlobTransferOptions {
  /** The content's digest, when known (a stream's cannot be computed up front). */
  digest?: string | undefined;
  mediaType?: string | undefined;
  /**
   * Ask first (HEAD) whether the registry has the blob, and send nothing if it does (outcome
   * "skipped"). Default true; needs the digest, which a file and bytes give and a stream does not.
   */
  skipExisting?: boolean | undefined;
}

export interface PushBlobResult extends BlobInfo {
  repository: string;
  outcome: UploadOutcome;
}

/**
 * Upload a blob to a repository: a file path (hashed first, so an existing blob is skipped and a
 * small one goes up in one request), bytes, or a stream (hashed on the way).
 */
export function pushBlob(repository: string, content: string | Uint8Array | Readable, options: PushBlobOptions = {}): Promise<PushBlobResult> {
  const { registry, repository: name } = parseRepository(repository);
  return withPool(options, async (pool) => {
    let digest = options.digest;
    let size: number | undefined = content instanceof Uint8Array ? content.length : undefined;
    if (typeof content === "string") {
      size = (await stat(content).catch((err: unknown) => Promise.reject(unreadableFile(content, err)))).size;
      digest ??= await hashFile(content);
    }
    const source = typeof content === "string" ? createReadStream(content) : content;
    const total = size ?? -1;
    const onProgress = options.onProgress;
    const result = await pool.client(registry).pushBlob(name, source, {
      ...(digest !== undefined ? { digest } : {}),
      ...(size !== undefined ? { size } : {}),
      ...(options.mediaType !== undefined ? { mediaType: options.mediaType } : {}),
      ...(options.skipExisting === false ? { skipExisting: false } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(onProgress ? { onProgress: (bytes: number) => onProgress(bytes, total) } : {}),
      // A file can be read again if the registry fails the upload part way.
      ...(typeof content === "string" ? { reopen: async () => createReadStream(content) } : {}),
    });
    return { repository: `${registry}/${name}`, digest: result.descriptor.digest, size: result.descriptor.size >= 0 ? result.descriptor.size : (size ?? -1), outcome: result.outcome };
  });
}

export interface MountBlobResult {
  repository: string;
  from: string;
  digest: string;
  mounted: true;
}

/**
 * Make blob DIGEST of FROM-REPO appear in REPO of the same registry without moving bytes.
 * FROM-REPO may repeat the registry ("host/other/repo") or leave it out ("other/repo").
 */
export function mountBlob(repository: string, fromRepository: string, digest: string, options: OperationOptions = {}): Promise<MountBlobResult> {
  const { registry, repository: name } = parseRepository(repository);
  const named = fromRepository.includes("/") ? parseRepository(fromRepository) : undefined;
  const from = named?.registry === registry ? named.repository : fromRepository;
  return withPool(options, async (pool) => {
    const mounted = await pool.client(registry).mountBlob(name, from, digest, options);
    if (!mounted) throw new NotFoundError(`${registry} did not mount ${digest} from ${from} into ${name} (the blob may not exist there, or you may not pull it)`);
    return { repository: `${registry}/${name}`, from, digest, mounted };
  });
}

/** Delete the blob REPO@DIGEST. */
export function deleteBlob(reference: string, options: OperationOptions = {}): Promise<{ deleted: string; repository: string }> {
  const ref = blobReference(reference);
  return withPool(options, async (pool) => {
    await pool.client(ref.registry).deleteBlob(ref.repository, ref.digest as string, options);
    return { deleted: ref.digest as string, repository: `${ref.registry}/${ref.repository}` };
  });
}

export interface OpenBlobOptions extends OperationOptions {
  /** Also learn the blob's size (one HEAD before the GET). */
  size?: boolean | undefined;
}

export interface OpenedBlob {
  digest: string;
  /** The size in bytes, when asked for. */
  size?: number;
  /**
   * The bytes, to read to the end: the stream fails (DigestMismatchError / SizeMismatchError)
   * instead of ending if they are not the blob's. Destroy it to stop early.
   */
  stream: Readable;
}

/**
 * The blob REPO@DIGEST as a verified stream (python-dxf's pull_blob): nothing is written
 * anywhere; with `size`, its size too. Without a pool in the options, the one made for the
 * call is closed when the stream closes.
 */
export async function openBlob(reference: string, options: OpenBlobOptions = {}): Promise<OpenedBlob> {
  const ref = blobReference(reference);
  const digest = ref.digest as string;
  const { pool: given, signal, size: wantSize, ...poolOptions } = options;
  const pool = given ?? new ClientPool(poolOptions);
  try {
    const client = pool.client(ref.registry);
    const size = wantSize === true ? (await client.headBlob(ref.repository, digest, { signal })).size : undefined;
    const stream = await client.getBlob(ref.repository, digest, { signal, ...(size !== undefined ? { expectedSize: size } : {}) });
    if (given === undefined) stream.once("close", () => void pool.close());
    return { digest, ...(size !== undefined ? { size } : {}), stream };
  } catch (err) {
    if (given === undefined) await pool.close();
    throw err;
  }
}

/** The sha256 digest of bytes ("sha256:<hex>"), as the registry computes it (python-dxf's hash_bytes). */
export function hashBytes(bytes: Uint8Array | string): string {
  return digestOf(bytes);
}

/** The sha256 digest of a file ("sha256:<hex>"), read once as a stream (python-dxf's hash_file). */
export async function hashFile(path: string): Promise<string> {
  const hasher = new DigestHasher();
  try {
    for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
  } catch (err) {
    throw unreadableFile(path, err);
  }
  return hasher.digest();
}

/** hashFile's earlier name, kept. */
export const sha256File = hashFile;

function blobReference(text: string): Reference {
  const ref = parseReference(text);
  if (ref.digest === undefined) throw new UsageError(`${text}: expected REPOSITORY@DIGEST`);
  return ref;
}
