/**
 * The one seam between "where images live" and "what we do with them". A registry
 * repository, an OCI image layout directory and a docker-archive tarball all implement
 * Store; the copy engine knows nothing else.
 */
import { Readable } from "node:stream";
import type { Descriptor } from "../media/types.js";
import type { BlobSource } from "../registry/upload.js";
import { holdError } from "../util/hold-error.js";
import { readAll } from "../util/read-all.js";

/**
 * What push() takes: bytes, a stream, or a stream still being opened (the copy engine asks the
 * source while the destination gets ready); the same a registry upload takes.
 */
export type PushContent = BlobSource;

/**
 * Content that waits before it is read (a queue, a check first): a stream failing meanwhile keeps
 * its error for the reader instead of throwing it as uncaught (see holdError). Returns `content`.
 */
export function holdContent(content: PushContent): PushContent {
  if (content instanceof Readable) holdError(content);
  else if (content instanceof Promise) void content.then(holdError, () => undefined);
  return content;
}

/** Let go of content that will not be read: destroy a stream, also one still being opened. */
export function discardContent(content: PushContent): void {
  if (content instanceof Uint8Array) return;
  if (content instanceof Readable) content.destroy();
  else void content.then((stream) => stream.destroy(), () => undefined);
}

export interface StoreOptions {
  signal?: AbortSignal | undefined;
}

export interface PushOptions extends StoreOptions {
  /** Called with the running byte count while content is written. */
  onProgress?: ((bytes: number) => void) | undefined;
}

export interface Store {
  /** Where this is, for messages: "docker://host/repo", "oci:/dir", "docker-archive:/file.tar". */
  readonly location: string;

  /** The descriptor a tag or digest names here (a root manifest or index). Throws a not-found QuaysideError if unknown. */
  resolve(reference: string, options?: StoreOptions): Promise<Descriptor>;

  /**
   * Content of a blob or manifest (told apart by descriptor.mediaType) as a stream that errors
   * with DigestMismatchError / SizeMismatchError instead of ending if the bytes are wrong.
   */
  fetch(descriptor: Descriptor, options?: StoreOptions): Promise<Readable>;

  /** Is this content here already? */
  exists(descriptor: Descriptor, options?: StoreOptions): Promise<boolean>;

  /**
   * Store content under its digest. The content is verified on the way; on a mismatch nothing
   * is stored. Manifests are stored untagged: naming them is tag()'s job, done last.
   */
  push(descriptor: Descriptor, content: PushContent, options?: PushOptions): Promise<void>;

  /** Point a tag at a manifest already stored here. */
  tag(descriptor: Descriptor, tag: string, options?: StoreOptions): Promise<void>;

  /**
   * Make a blob of `source` appear here without moving its bytes (cross-repository mount).
   * Resolves false when this store cannot (another registry, or the server declined).
   */
  mount?(descriptor: Descriptor, source: Store, options?: StoreOptions): Promise<boolean>;

  /**
   * The manifests whose `subject` is `descriptor` (OCI 1.1 referrers: signatures, SBOMs...).
   * A store that has this also keeps what it is pushed listable here (a registry without the
   * referrers API through the fallback tag). Stores without it can neither list nor keep referrers.
   */
  referrers?(descriptor: Descriptor, options?: StoreOptions): Promise<Descriptor[]>;

  /** Finish writing (an archive writes its index and moves into place) and release resources. */
  close(): Promise<void>;

  /** After a failure: discard whatever is half-written (temp files, an unfinished archive) and release resources. */
  abort(): Promise<void>;
}

/** Read a whole small item (manifest, config) from a store, verified. */
export async function fetchBytes(store: Store, descriptor: Descriptor, options?: StoreOptions & { limit?: number }): Promise<Uint8Array> {
  return readAll(await store.fetch(descriptor, options), options?.limit ?? 16 * 1024 * 1024, `${store.location}: ${descriptor.digest}`);
}
