/**
 * A Store held in memory: blobs and manifests in Maps keyed by digest, tags in a Map. For tests
 * of the copy engine and of anything else written against Store (no registry, no disk), and for
 * library users who want to build or inspect an image before writing it anywhere.
 *
 * Content is verified on push exactly as the other stores verify it (digest and size, nothing
 * stored on a mismatch) and fetch() returns a verifying stream. Every call is logged in `calls`,
 * and `faults` damages chosen fetches and pushes, so tests can check what the engine asked for and
 * in which order, and how it copes with bad sources.
 */
import { Readable, Writable, addAbortSignal } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { createVerifyingStream, digestOf, isDigest, parseDigest } from "../digest/digest.js";
import { DigestMismatchError, InvalidReferenceError, NetworkError, NotFoundError, QuaysideError, SizeMismatchError } from "../errors.js";
import { parseManifest, referrerDescriptor, subjectOf } from "../media/manifest.js";
import { isManifestMediaType, type Descriptor } from "../media/types.js";
import { isValidTag } from "../ref/reference.js";
import { canMount, discardContent, type PushContent, type PushOptions, type Store, type StoreCapabilities, type StoreOptions } from "./store.js";

/**
 * Stores that can mount from each other: what a registry is to its repositories. Each member
 * is known here by its mount name, so mount() finds the other store's blobs without moving bytes.
 */
export class MemoryDomain {
  readonly #members = new Map<string, MemoryStore>();

  constructor(readonly name: string) {}

  /** Called by the MemoryStore constructor; a name is taken once per domain, as a repository is. */
  join(name: string, store: MemoryStore): void {
    if (this.#members.has(name)) throw new TypeError(`memory domain ${this.name} already has a store named ${name}`);
    this.#members.set(name, store);
  }

  member(name: string): MemoryStore | undefined {
    return this.#members.get(name);
  }
}

export type MemoryOp = "resolve" | "fetch" | "exists" | "push" | "tag" | "mount" | "referrers" | "tags" | "close" | "abort";

/** One call made on a MemoryStore, logged when the call starts. */
export interface MemoryCall {
  op: MemoryOp;
  /** The descriptor's digest (resolve: the reference given; tag: the manifest tagged). */
  digest?: string;
  /** tag(): the tag written. */
  tag?: string;
}

/**
 * Damage to inject, by digest. Sets, so a test can add to them after seeding the store. A fetch
 * still goes through verification: truncated and corrupted content make the returned stream
 * error with SizeMismatchError / DigestMismatchError, as a bad registry or disk would.
 */
export interface MemoryFaults {
  /** fetch() rejects with a NetworkError. */
  fetchFails: Set<string>;
  /** fetch() serves the content without its last byte. */
  fetchTruncated: Set<string>;
  /** fetch() serves the content with its middle byte flipped. */
  fetchCorrupted: Set<string>;
  /** push() of this digest fails with a NetworkError once this many bytes of its content were read. */
  pushFailsAfter: Map<string, number>;
}

export interface MemoryStoreOptions {
  /** For messages (default "memory:<n>"). */
  location?: string;
  /** What it declares it can do; default indexes, referrers and tags, no mount. */
  capabilities?: Partial<Pick<StoreCapabilities, "indexes" | "referrers" | "tags">>;
  /** Join a domain under this name: stores of one domain mount blobs from each other. */
  mount?: { domain: MemoryDomain; name: string };
  faults?: Partial<MemoryFaults>;
  /** fetch() streams content in chunks of this many bytes (default 64 KiB), so progress and aborts happen mid-blob. */
  chunkSize?: number;
  /** push() waits this long before it reads its content, as a registry opens an upload session first (default 0). */
  openDelayMs?: number;
}

interface StoredManifest {
  bytes: Uint8Array;
  mediaType: string;
  /** referrerDescriptor() when the manifest has a subject. */
  referrer?: { subject: string; descriptor: Descriptor };
}

let stores = 0;

export class MemoryStore implements Store {
  readonly location: string;
  readonly capabilities: StoreCapabilities;
  /** Every call in the order made (see MemoryCall). Tests may clear it: `store.calls.length = 0`. */
  readonly calls: MemoryCall[] = [];
  readonly faults: MemoryFaults;
  readonly #blobs = new Map<string, Uint8Array>();
  readonly #manifests = new Map<string, StoredManifest>();
  readonly #tags = new Map<string, string>();
  readonly #domain: MemoryDomain | undefined;
  readonly #chunkSize: number;
  readonly #openDelayMs: number;
  /** Aborted by abort(): pushes still reading fail and store nothing. */
  readonly #controller = new AbortController();
  #state: "open" | "closed" | "aborted" = "open";

  constructor(options: MemoryStoreOptions = {}) {
    this.#chunkSize = options.chunkSize ?? 64 * 1024;
    if (!Number.isSafeInteger(this.#chunkSize) || this.#chunkSize <= 0) throw new RangeError("chunkSize must be a positive integer");
    this.location = options.location ?? `memory:${++stores}`;
    const mount = options.mount;
    this.capabilities = {
      indexes: options.capabilities?.indexes ?? true,
      referrers: options.capabilities?.referrers ?? true,
      tags: options.capabilities?.tags ?? true,
      ...(mount ? { mount: { domain: mount.domain.name, name: mount.name } } : {}),
    };
    this.#domain = mount?.domain;
    mount?.domain.join(mount.name, this);
    const faults = options.faults ?? {};
    this.faults = {
      fetchFails: faults.fetchFails ?? new Set(),
      fetchTruncated: faults.fetchTruncated ?? new Set(),
      fetchCorrupted: faults.fetchCorrupted ?? new Set(),
      pushFailsAfter: faults.pushFailsAfter ?? new Map(),
    };
    this.#openDelayMs = options.openDelayMs ?? 0;
  }

  /** "open" until close() or abort(). */
  get state(): "open" | "closed" | "aborted" {
    return this.#state;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** A tag, or the digest of a manifest held here. */
  async resolve(reference: string, options: StoreOptions = {}): Promise<Descriptor> {
    this.#log({ op: "resolve", digest: reference });
    options.signal?.throwIfAborted();
    const digest = isDigest(reference) ? reference : this.#tags.get(reference);
    const manifest = digest === undefined ? undefined : this.#manifests.get(digest);
    if (digest === undefined || manifest === undefined) {
      throw new NotFoundError(`${isDigest(reference) ? "manifest" : "tag"} ${reference} not found in ${this.location}`, { code: "MANIFEST_UNKNOWN" });
    }
    return { mediaType: manifest.mediaType, digest, size: manifest.bytes.length };
  }

  async fetch(descriptor: Descriptor, options: StoreOptions = {}): Promise<Readable> {
    this.#log({ op: "fetch", digest: descriptor.digest });
    options.signal?.throwIfAborted();
    const digest = descriptor.digest;
    const stored = this.#content(descriptor);
    if (stored === undefined) throw this.#notFound(descriptor);
    if (this.faults.fetchFails.has(digest)) throw new NetworkError(`${this.location}: fetch of ${digest} failed (injected)`);
    let served = stored;
    if (this.faults.fetchTruncated.has(digest)) served = stored.subarray(0, Math.max(0, stored.length - 1));
    if (this.faults.fetchCorrupted.has(digest) && stored.length > 0) {
      const copy = Buffer.from(stored);
      const middle = Math.floor(copy.length / 2);
      copy[middle] = (copy[middle] as number) ^ 0xff;
      served = copy;
    }
    const verified = createVerifyingStream(digest, { expectedSize: descriptor.size, what: `${this.location} ${digest}` });
    // As a registry's blob stream does, a failed verification errors `verified` whether or not
    // anyone listens yet: whoever fetches must read the stream or destroy it, and tests see it.
    Readable.from(this.#chunks(served)).pipe(verified);
    if (options.signal) addAbortSignal(options.signal, verified);
    return verified;
  }

  /** Held here with this size (manifests and blobs are told apart by media type). */
  async exists(descriptor: Descriptor, options: StoreOptions = {}): Promise<boolean> {
    this.#log({ op: "exists", digest: descriptor.digest });
    options.signal?.throwIfAborted();
    return this.#content(descriptor)?.length === descriptor.size;
  }

  /** Manifests pushed here whose `subject` is `descriptor`, in the order pushed. */
  async referrers(descriptor: Descriptor, options: StoreOptions = {}): Promise<Descriptor[]> {
    this.#log({ op: "referrers", digest: descriptor.digest });
    options.signal?.throwIfAborted();
    return [...this.#manifests.values()].flatMap((m) => (m.referrer?.subject === descriptor.digest ? [m.referrer.descriptor] : []));
  }

  async *tags(options: StoreOptions = {}): AsyncIterable<string> {
    this.#log({ op: "tags" });
    options.signal?.throwIfAborted();
    yield* [...this.#tags.keys()].sort();
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /**
   * Reads the content whole, verifying digest and size, and only then stores it: on a mismatch,
   * a failed or aborted stream, nothing is stored. Content already held is not read (a stream is
   * destroyed unread). A manifest is parsed (a registry refuses what is not one); one with a
   * subject becomes listable by referrers().
   */
  async push(descriptor: Descriptor, given: PushContent, options: PushOptions = {}): Promise<void> {
    this.#log({ op: "push", digest: descriptor.digest });
    const signal = options.signal ? AbortSignal.any([this.#controller.signal, options.signal]) : this.#controller.signal;
    let content: Uint8Array | Readable;
    try {
      signal.throwIfAborted();
      if (this.#openDelayMs > 0) await delay(this.#openDelayMs, undefined, { signal });
      content = await given;
    } catch (err) {
      discardContent(given);
      throw err;
    }
    if (this.#content(descriptor)?.length === descriptor.size) {
      if (content instanceof Readable) content.destroy();
      return;
    }
    const bytes = await this.#read(descriptor, content, signal, options.onProgress);
    if (!isManifestMediaType(descriptor.mediaType)) {
      this.#blobs.set(descriptor.digest, bytes);
      return;
    }
    const manifest = parseManifest(bytes, descriptor.mediaType);
    const subject = subjectOf(manifest);
    this.#manifests.set(descriptor.digest, {
      bytes,
      mediaType: manifest.mediaType,
      ...(subject ? { referrer: { subject: subject.digest, descriptor: referrerDescriptor(manifest, bytes.length) } } : {}),
    });
  }

  /** Points `tag` at a manifest held here. */
  async tag(descriptor: Descriptor, tag: string, options: StoreOptions = {}): Promise<void> {
    this.#log({ op: "tag", digest: descriptor.digest, tag });
    options.signal?.throwIfAborted();
    if (!isValidTag(tag)) throw new InvalidReferenceError(tag, "tag", "is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
    if (!this.#manifests.has(descriptor.digest)) {
      throw new NotFoundError(`cannot tag ${tag}: manifest ${descriptor.digest} is not in ${this.location}; push it first`, { code: "MANIFEST_UNKNOWN" });
    }
    this.#tags.set(tag, descriptor.digest);
  }

  /** The blob appears here if `source` is a store of this domain that holds it; false otherwise. */
  async mount(descriptor: Descriptor, source: Store, options: StoreOptions = {}): Promise<boolean> {
    this.#log({ op: "mount", digest: descriptor.digest });
    options.signal?.throwIfAborted();
    const from = source.capabilities.mount;
    if (!canMount(this, source) || from === undefined) return false;
    // The source must be the member of this very domain (a domain name alone could be another's).
    const member = this.#domain?.member(from.name);
    const bytes = member === source ? member.#blobs.get(descriptor.digest) : undefined;
    if (bytes === undefined || bytes.length !== descriptor.size) return false;
    this.#blobs.set(descriptor.digest, bytes);
    return true;
  }

  /** Forget a blob or manifest (and the tags naming it): a test's way of making content go missing. */
  delete(digest: string): boolean {
    for (const [tag, target] of this.#tags) if (target === digest) this.#tags.delete(tag);
    const blob = this.#blobs.delete(digest);
    return this.#manifests.delete(digest) || blob;
  }

  /** Nothing to write: everything stored is already whole. */
  async close(): Promise<void> {
    this.#log({ op: "close" });
    if (this.#state === "open") this.#state = "closed";
  }

  /** Pushes still reading fail and store nothing. */
  async abort(): Promise<void> {
    this.#log({ op: "abort" });
    this.#state = "aborted";
    this.#controller.abort(new QuaysideError("ABORTED", `${this.location}: aborted`));
  }

  // -------------------------------------------------------------------------------------------

  #log(call: MemoryCall): void {
    this.calls.push(call);
  }

  #content(descriptor: Descriptor): Uint8Array | undefined {
    return isManifestMediaType(descriptor.mediaType) ? this.#manifests.get(descriptor.digest)?.bytes : this.#blobs.get(descriptor.digest);
  }

  #notFound(descriptor: Descriptor): NotFoundError {
    const manifest = isManifestMediaType(descriptor.mediaType);
    return new NotFoundError(`${manifest ? "manifest" : "blob"} ${descriptor.digest} not found in ${this.location}`, { code: manifest ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN" });
  }

  *#chunks(bytes: Uint8Array): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += this.#chunkSize) yield Buffer.from(bytes.subarray(i, i + this.#chunkSize));
  }

  /** The whole content, verified; rejects (reading no further) on a mismatch, an injected fault or an abort. */
  async #read(descriptor: Descriptor, content: Uint8Array | Readable, signal: AbortSignal, onProgress: ((bytes: number) => void) | undefined): Promise<Uint8Array> {
    const what = `${descriptor.digest} pushed to ${this.location}`;
    const failAfter = this.faults.pushFailsAfter.get(descriptor.digest);
    if (content instanceof Uint8Array && failAfter === undefined) {
      const { algorithm } = parseDigest(descriptor.digest);
      if (content.length !== descriptor.size) throw new SizeMismatchError(descriptor.size, content.length, what);
      const actual = digestOf(content, algorithm);
      if (actual !== descriptor.digest) throw new DigestMismatchError(descriptor.digest, actual, what);
      onProgress?.(content.length);
      return Buffer.from(content);
    }
    const source = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
    const chunks: Buffer[] = [];
    let total = 0;
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        total += chunk.length;
        if (failAfter !== undefined && total > failAfter) {
          callback(new NetworkError(`${this.location}: push of ${descriptor.digest} failed after ${failAfter} bytes (injected)`));
          return;
        }
        chunks.push(chunk);
        onProgress?.(total);
        callback();
      },
    });
    // Any failure (source, verification, sink, abort) destroys every stage and rejects here.
    await pipeline(source, createVerifyingStream(descriptor.digest, { expectedSize: descriptor.size, what }), sink, { signal });
    return Buffer.concat(chunks, total);
  }
}
