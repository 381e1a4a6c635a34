/** A registry repository as a Store: manifests by digest, blobs streamed, mounts within one registry. */
import type { Readable } from "node:stream";
import { QuaysideError } from "../errors.js";
import { isManifestMediaType, type Descriptor } from "../media/types.js";
import type { RegistryClient } from "../registry/client.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { bytesStream, readAll } from "../util/streams.js";
import { canMount, type PushContent, type PushOptions, type ResolveOptions, type Store, type TagListOptions, type StoreCapabilities, type StoreOptions } from "./store.js";

/** Manifests seen recently, so tag() need not fetch back what push() just sent. */
const REMEMBERED_MANIFESTS = 64;

export class RegistryStore implements Store {
  readonly location: string;
  readonly capabilities: StoreCapabilities;
  private readonly manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
  ) {
    this.location = `docker://${client.registry}/${repository}`;
    // Mounts work between repositories of one registry.
    this.capabilities = { indexes: true, referrers: true, tags: true, mount: { domain: client.registry, name: repository } };
  }

  /**
   * A GET, not a HEAD: whoever resolves usually reads the manifest next, and this one request
   * serves both. With descriptorOnly, a HEAD (Docker Hub does not count it against pull limits).
   */
  async resolve(reference: string, options: ResolveOptions = {}): Promise<Descriptor> {
    if (options.descriptorOnly) return this.client.headManifest(this.repository, reference, options);
    const manifest = await this.client.getManifest(this.repository, reference, options);
    this.remember(manifest.digest, manifest.bytes, manifest.mediaType);
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
  }

  async fetch(descriptor: Descriptor, options: StoreOptions = {}): Promise<Readable> {
    if (isManifestMediaType(descriptor.mediaType)) {
      const known = this.manifests.get(descriptor.digest);
      if (known) return bytesStream(known.bytes);
      const manifest = await this.client.getManifest(this.repository, descriptor.digest, options);
      this.remember(descriptor.digest, manifest.bytes, manifest.mediaType);
      return bytesStream(manifest.bytes);
    }
    return this.client.getBlob(this.repository, descriptor.digest, { ...options, expectedSize: descriptor.size });
  }

  async exists(descriptor: Descriptor, options: StoreOptions = {}): Promise<boolean> {
    if (!isManifestMediaType(descriptor.mediaType)) return this.client.blobExists(this.repository, descriptor.digest, options);
    try {
      await this.client.headManifest(this.repository, descriptor.digest, options);
      return true;
    } catch (err) {
      if (err instanceof QuaysideError && err.category === "not-found") return false;
      throw err;
    }
  }

  async push(descriptor: Descriptor, content: PushContent, options: PushOptions = {}): Promise<void> {
    if (isManifestMediaType(descriptor.mediaType)) {
      const bytes = content instanceof Uint8Array ? content : await readAll(await content, MANIFEST_SIZE_LIMIT, `manifest ${descriptor.digest}`);
      await this.client.putManifest(this.repository, descriptor.digest, bytes, { ...options, mediaType: descriptor.mediaType });
      this.remember(descriptor.digest, bytes, descriptor.mediaType);
      return;
    }
    await this.client.pushBlob(this.repository, content, {
      digest: descriptor.digest,
      size: descriptor.size,
      mediaType: descriptor.mediaType,
      // The copy engine asked exists() already; a second HEAD would only cost a round trip.
      skipExisting: false,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.reopen ? { reopen: options.reopen } : {}),
    });
  }

  async tag(descriptor: Descriptor, tag: string, options: StoreOptions = {}): Promise<void> {
    const known = this.manifests.get(descriptor.digest);
    const bytes = known?.bytes ?? (await this.client.getManifest(this.repository, descriptor.digest, options)).bytes;
    await this.client.putManifest(this.repository, tag, bytes, { ...options, mediaType: descriptor.mediaType });
  }

  async mount(descriptor: Descriptor, source: Store, options: StoreOptions = {}): Promise<boolean> {
    const from = source.capabilities.mount;
    if (!canMount(this, source) || from === undefined) return false;
    return this.client.mountBlob(this.repository, from.name, descriptor.digest, options);
  }

  referrers(descriptor: Descriptor, options: StoreOptions = {}): Promise<Descriptor[]> {
    return this.client.referrers(this.repository, descriptor.digest, options);
  }

  tags(options: TagListOptions = {}): AsyncIterable<string> {
    return this.client.tags(this.repository, { signal: options.signal, ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}) });
  }

  async close(): Promise<void> {}

  async abort(): Promise<void> {}

  private remember(digest: string, bytes: Uint8Array, mediaType: string): void {
    if (this.manifests.size >= REMEMBERED_MANIFESTS) {
      const oldest = this.manifests.keys().next().value;
      if (oldest !== undefined) this.manifests.delete(oldest);
    }
    this.manifests.set(digest, { bytes, mediaType });
  }
}
