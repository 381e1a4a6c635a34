/**
 * High-level objects over a RegistryClient: Registry -> Repository -> Image.
 * They hold no protocol logic of their own; each method is one or two client calls.
 */
import { ManifestError } from "../errors.js";
import { isImage, isIndex, parseImageConfig, type ImageConfig, type ImageManifest, type IndexManifest, type Manifest } from "../media/manifest.js";
import type { Descriptor, Platform } from "../media/types.js";
import { formatPlatform, hostPlatform, selectPlatform } from "../ref/platform.js";
import { parseReference, type Reference } from "../ref/reference.js";
import { RegistryClient, type ListOptions, type RegistryClientOptions, type RequestOptions } from "../registry/client.js";

export class Registry {
  readonly client: RegistryClient;

  constructor(registry: string | RegistryClient, options: RegistryClientOptions = {}) {
    this.client = typeof registry === "string" ? new RegistryClient(registry, options) : registry;
  }

  get host(): string {
    return this.client.registry;
  }

  repository(name: string): Repository {
    return new Repository(this.client, name);
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
  /** For an index: the platform to pick. Default: the index itself is returned. */
  platform?: Platform | undefined;
}

export class Repository {
  constructor(
    readonly client: RegistryClient,
    readonly name: string,
  ) {}

  tags(options?: ListOptions): AsyncIterable<string> {
    return this.client.tags(this.name, options);
  }

  manifest(reference: string, options?: RequestOptions): Promise<Manifest> {
    return this.client.getManifest(this.name, reference, options);
  }

  /**
   * The image behind a tag or digest. For an index, `platform` picks the child (an error lists
   * what the index has); without `platform` the host's platform is picked.
   */
  async image(reference: string, options: ResolveOptions = {}): Promise<Image> {
    const top = await this.manifest(reference, options);
    if (isImage(top)) return new Image(this, top);
    if (isIndex(top)) {
      const chosen = selectPlatform(top.manifests, options.platform ?? hostPlatform());
      const child = await this.manifest(chosen.digest, options);
      if (!isImage(child)) throw new ManifestError(`${this.name}@${chosen.digest}: the index entry is not an image manifest (${child.mediaType})`);
      return new Image(this, child, top, chosen);
    }
    throw new ManifestError(`${this.name}:${reference} is a Docker schema 1 manifest, which has no config blob; read it with manifest()`);
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

  /** os/arch[/variant]: from the config, which is authoritative, else from the index entry. */
  async platform(options?: RequestOptions): Promise<string> {
    const config = await this.config(options);
    if (config.os && config.architecture) {
      return formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
    }
    return this.descriptor?.platform ? formatPlatform(this.descriptor.platform) : "unknown";
  }

  private loadConfig(options?: RequestOptions): Promise<{ bytes: Uint8Array; config: ImageConfig }> {
    this.configPromise ??= this.repository.client
      .getBlobBytes(this.repository.name, this.manifest.config.digest, { ...options, expectedSize: this.manifest.config.size })
      .then((bytes) => ({ bytes, config: parseImageConfig(bytes) }));
    return this.configPromise;
  }
}

/** Parse a reference string and open its registry and repository in one go. */
export function openReference(reference: string | Reference, options: RegistryClientOptions = {}): { registry: Registry; repository: Repository; reference: Reference } {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const registry = new Registry(ref.registry, options);
  return { registry, repository: registry.repository(ref.repository), reference: ref };
}
