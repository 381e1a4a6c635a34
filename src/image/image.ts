/**
 * High-level objects: Registry -> Repository -> Image. A Repository is any Store (a registry
 * repository, an OCI layout, a docker archive), so every read works wherever images live.
 * They hold no protocol logic of their own; each method is one or two store calls.
 */
import { ManifestError, PlatformNotFoundError } from "../errors.js";
import { isImage, isIndex, parseImageConfig, parseManifest, type ImageConfig, type ImageManifest, type IndexManifest, type Manifest } from "../media/manifest.js";
import type { Descriptor, Platform } from "../media/types.js";
import { formatPlatform, hostPlatform, platformMatches, selectPlatform } from "../ref/platform.js";
import { parseReference, type Reference } from "../ref/reference.js";
import { RegistryClient, type ListOptions, type RegistryClientOptions, type RequestOptions } from "../registry/client.js";
import { RegistryStore } from "../store/registry-store.js";
import { fetchBytes, requireCapability, type ResolveOptions as StoreResolveOptions, type Store, type TagListOptions } from "../store/store.js";

export class Registry {
  readonly client: RegistryClient;

  constructor(registry: string | RegistryClient, options: RegistryClientOptions = {}) {
    this.client = typeof registry === "string" ? new RegistryClient(registry, options) : registry;
  }

  get host(): string {
    return this.client.registry;
  }

  repository(name: string): Repository {
    return new Repository(new RegistryStore(this.client, name));
  }

  catalog(options?: ListOptions): AsyncIterable<string> {
    return this.client.catalog(options);
  }

  ping(options?: RequestOptions) {
    return this.client.ping(options);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface ResolveOptions extends RequestOptions {
  /** For an index: the platform to pick. Default: this host's. */
  platform?: Platform | undefined;
}

export class Repository {
  constructor(readonly store: Store) {}

  /** Where it is, for messages: "docker://host/repo", "oci:dir", "docker-archive:file". */
  get location(): string {
    return this.store.location;
  }

  /** Every tag (a registry follows pagination). */
  tags(options?: TagListOptions): AsyncIterable<string> {
    requireCapability(this.store, "tags");
    return (this.store.tags as NonNullable<Store["tags"]>).call(this.store, options);
  }

  /** What a tag or digest names, without reading the manifest where the store can tell (a registry's HEAD). */
  resolve(reference: string, options?: StoreResolveOptions): Promise<Descriptor> {
    return this.store.resolve(reference, options);
  }

  /** The manifest a tag or digest names, with its exact bytes (digest-verified). */
  async manifest(reference: string, options?: RequestOptions): Promise<Manifest> {
    return this.manifestAt(await this.store.resolve(reference, options), options);
  }

  /** The manifest a descriptor names (an index entry, say). */
  async manifestAt(descriptor: Descriptor, options?: RequestOptions): Promise<Manifest> {
    return parseManifest(await fetchBytes(this.store, descriptor, options), descriptor.mediaType);
  }

  /**
   * The image behind a tag or digest. For an index, `platform` picks the child (an error lists
   * what the index has); without `platform` the host's platform is picked.
   */
  async image(reference: string, options: ResolveOptions = {}): Promise<Image> {
    return this.imageOf(await this.manifest(reference, options), options);
  }

  /**
   * The image a manifest already read stands for: itself, or the child of an index for the
   * platform. A single image whose platform is not the one asked for is a PlatformNotFoundError.
   */
  async imageOf(top: Manifest, options: ResolveOptions & { strictPlatform?: boolean } = {}): Promise<Image> {
    if (isIndex(top)) {
      const chosen = selectPlatform(top.manifests, options.platform ?? hostPlatform());
      const child = await this.manifestAt(chosen, options);
      if (!isImage(child)) throw new ManifestError(`${this.location}@${chosen.digest}: the index entry is not an image manifest (${child.mediaType})`);
      return new Image(this, child, top, chosen);
    }
    if (!isImage(top)) throw new ManifestError(`${this.location}@${top.digest} is a Docker schema 1 manifest, which has no config blob; read it with manifest()`);
    const image = new Image(this, top);
    if (options.strictPlatform && options.platform !== undefined) {
      const actual = await image.platformObject(options);
      if (actual !== undefined && !platformMatches(options.platform, actual)) throw new PlatformNotFoundError(formatPlatform(options.platform), [formatPlatform(actual)], "the image is");
    }
    return image;
  }
}

export interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
}

export class Image {
  private configPromise: Promise<{ bytes: Uint8Array; config: ImageConfig }> | undefined;

  constructor(
    readonly repository: Repository,
    readonly manifest: ImageManifest,
    /** The index this image was picked from, if any. */
    readonly index?: IndexManifest,
    /** The index entry that led here, with its platform. */
    readonly descriptor?: Descriptor,
  ) {}

  get digest(): string {
    return this.manifest.digest;
  }

  get layers(): LayerInfo[] {
    return this.manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
  }

  /** Compressed size as stored: manifest + config + layers. */
  get size(): number {
    return this.manifest.bytes.length + this.manifest.config.size + this.manifest.layers.reduce((sum, l) => sum + l.size, 0);
  }

  /** The config blob's exact bytes (digest-verified). */
  async configBytes(options?: RequestOptions): Promise<Uint8Array> {
    return (await this.loadConfig(options)).bytes;
  }

  async config(options?: RequestOptions): Promise<ImageConfig> {
    return (await this.loadConfig(options)).config;
  }

  /** os/arch[/variant]: from the config, which is authoritative, else from the index entry; "unknown" when neither says. */
  async platform(options?: RequestOptions): Promise<string> {
    const platform = await this.platformObject(options);
    return platform ? formatPlatform(platform) : "unknown";
  }

  /** The same as a Platform, or undefined when neither the config nor the index entry says. */
  async platformObject(options?: RequestOptions): Promise<Platform | undefined> {
    const config = await this.config(options);
    if (config.os && config.architecture) return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
    return this.descriptor?.platform;
  }

  private loadConfig(options?: RequestOptions): Promise<{ bytes: Uint8Array; config: ImageConfig }> {
    this.configPromise ??= fetchBytes(this.repository.store, this.manifest.config, options).then((bytes) => ({
      bytes,
      config: parseImageConfig(bytes),
    }));
    return this.configPromise;
  }
}

/** Parse a reference string and open its registry and repository in one go. */
export function openReference(reference: string | Reference, options: RegistryClientOptions = {}): { registry: Registry; repository: Repository; reference: Reference } {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const registry = new Registry(ref.registry, options);
  return { registry, repository: registry.repository(ref.repository), reference: ref };
}
