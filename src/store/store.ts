/**
 * The one seam between "where images live" and "what we do with them". A registry
 * repository, an OCI image layout directory and a docker-archive tarball all implement
 * Store; the copy engine knows nothing else.
 */
import { Readable } from "node:stream";
import type { Descriptor } from "../media/types.js";
import type { BlobSource } from "../registry/uploads.js";
import { UnsupportedError } from "../errors.js";
import { BLOB_BYTES_LIMIT } from "../util/limits.js";
import { holdError } from "../util/hold-error.js";
import { readAll } from "../util/streams.js";

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

export interface ResolveOptions extends StoreOptions {
  /** Only the descriptor is wanted, not the manifest next: a registry asks with HEAD instead of GET. */
  descriptorOnly?: boolean | undefined;
  /**
   * Ask a registry for these manifest media types only (its Accept header), for a strict or
   * preference fetch; a registry that answers with another type is an UnexpectedMediaTypeError.
   * Stores holding one form of each manifest ignore it: the caller checks the type they give.
   */
  accept?: readonly string[] | undefined;
}

export interface TagListOptions extends StoreOptions {
  /** Ask a registry for pages of this many tags (it may cap them). */
  pageSize?: number | undefined;
}

export interface PushOptions extends StoreOptions {
  /** Called with the running byte count while content is written (from 0 again when it starts over). */
  onProgress?: ((bytes: number) => void) | undefined;
  /**
   * The content again from its first byte, for a store that can try once more after a fault at
   * its end (a registry answering 503 to an upload): the copy engine fetches the source again.
   */
  reopen?: (() => Promise<Readable>) | undefined;
}

/**
 * What a store can do, declared as data: callers check it (requireCapability) instead of testing
 * the store's class, once and up front, before any byte moves.
 */
export interface StoreCapabilities {
  /** Holds image indexes (multi-platform images). A docker archive holds single images only. */
  readonly indexes: boolean;
  /** Lists the OCI 1.1 referrers of a manifest (referrers()) and keeps those pushed to it listable. */
  readonly referrers: boolean;
  /** Lists the tags it holds (tags()). */
  readonly tags: boolean;
  /**
   * Blobs can be mounted into this store, without moving bytes, from another store of the same
   * domain (one registry); `name` is what this store is called there (its repository).
   */
  readonly mount?: { readonly domain: string; readonly name: string } | undefined;
}

export type StoreCapability = "indexes" | "referrers" | "tags";

export interface Store {
  /** Where this is, for messages: "docker://host/repo", "oci:/dir", "docker-archive:/file.tar". */
  readonly location: string;

  readonly capabilities: StoreCapabilities;

  /** The descriptor a tag or digest names here (a root manifest or index). Throws a not-found QuaysideError if unknown. */
  resolve(reference: string, options?: ResolveOptions): Promise<Descriptor>;

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
   * Resolves false when this store cannot (another domain, or the server declined).
   */
  mount?(descriptor: Descriptor, source: Store, options?: StoreOptions): Promise<boolean>;

  /**
   * With capabilities.referrers: the manifests whose `subject` is `descriptor` (OCI 1.1
   * referrers: signatures, SBOMs...). Such a store also keeps what it is pushed listable here (a
   * registry without the referrers API through the fallback tag).
   */
  referrers?(descriptor: Descriptor, options?: StoreOptions): Promise<Descriptor[]>;

  /** With capabilities.tags: every tag the store holds (a registry follows pagination). */
  tags?(options?: TagListOptions): AsyncIterable<string>;

  /** Finish writing (an archive writes its index and moves into place) and release resources. */
  close(): Promise<void>;

  /** After a failure: discard whatever is half-written (temp files, an unfinished archive) and release resources. */
  abort(): Promise<void>;
}

const CAPABILITY_WORDS: Record<StoreCapability, string> = {
  indexes: "hold an index (a multi-platform image); pick one platform",
  referrers: "hold referrers (registries and OCI layouts can)",
  tags: "list tags",
};

/** The one check of what a store can do: an UnsupportedError naming the store and what it cannot. */
export function requireCapability(store: Store, capability: StoreCapability, purpose?: string): void {
  if (store.capabilities[capability]) return;
  throw new UnsupportedError(`${purpose ? `${purpose}: ` : ""}${store.location} cannot ${CAPABILITY_WORDS[capability]}`);
}

/** Can `destination` mount blobs from `source` (one registry, another repository)? */
export function canMount(destination: Store, source: Store): boolean {
  const to = destination.capabilities.mount;
  const from = source.capabilities.mount;
  return destination.mount !== undefined && to !== undefined && from !== undefined && to.domain === from.domain && to.name !== from.name;
}

/** Read a whole small item (manifest, config) from a store, verified. */
export async function fetchBytes(store: Store, descriptor: Descriptor, options?: StoreOptions & { limit?: number }): Promise<Uint8Array> {
  return readAll(await store.fetch(descriptor, options), options?.limit ?? BLOB_BYTES_LIMIT, `${store.location}: ${descriptor.digest}`);
}
