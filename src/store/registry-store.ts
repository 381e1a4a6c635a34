/** A registry repository as a Store: manifests by digest, blobs streamed, mounts within one registry. */
import type { Readable } from "node:stream";
import { QuaysideError } from "../errors.js";
import { isManifestMediaType, type Descriptor } from "../media/types.js";
import type { RegistryClient } from "../registry/client.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { bytesStream, readAll } from "../util/streams.js";
import type { PushContent, PushOptions, Store, StoreOptions } from "./store.js";

/** Manifests seen recently, so tag() need not fetch back what push() just sent. */
const REMEMBERED_MANIFESTS = 64;

export class RegistryStore implements Store {
  readonly location: string;
  private readonly manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
  ) {
    this.location = `docker://${client.registry}/${repository}`;
  }

  /** A GET, not a HEAD: whoever resolves reads the manifest next, and this one request serves both. */
  async resolve(reference: string, options: StoreOptions = {}): Promise<Descriptor> {
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
    });
  }

  async tag(descriptor: Descriptor, tag: string, options: StoreOptions = {}): Promise<void> {
    const known = this.manifests.get(descriptor.digest);
    const bytes = known?.bytes ?? (await this.client.getManifest(this.repository, descriptor.digest, options)).bytes;
    await this.client.putManifest(this.repository, tag, bytes, { ...options, mediaType: descriptor.mediaType });
  }

  async mount(descriptor: Descriptor, source: Store, options: StoreOptions = {}): Promise<boolean> {
    if (!(source instanceof RegistryStore) || source.client.registry !== this.client.registry || source.repository === this.repository) return false;
    return this.client.mountBlob(this.repository, source.repository, descriptor.digest, options);
  }

  referrers(descriptor: Descriptor, options: StoreOptions = {}): Promise<Descriptor[]> {
    return this.client.referrers(this.repository, descriptor.digest, options);
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
