/**
 * High-level objects: Registry -> Repository -> ImageIndex -> Image. A Repository is any Store (a
 * registry repository, an OCI layout, a docker archive), so every read works wherever images
 * live; what only a registry can do (delete) needs the registry client the Registry gives it.
 * They hold no protocol logic of their own; each method is one or two store or client calls.
 */
import type { Readable } from "node:stream";
import { isDigest } from "../digest/digest.js";
import { InvalidDigestError, isNotFound, ManifestError, PlatformNotFoundError, QuaysideError, UnsupportedError, UsageError } from "../errors.js";
import { isImage, isIndex, parseImageConfig, parseManifest, type ImageConfig, type ImageManifest, type IndexManifest, type Manifest } from "../media/manifest.js";
import type { Descriptor, Platform } from "../media/types.js";
import { formatPlatform, hostPlatform, isAttestation, parsePlatform, platformMatches, selectPlatform } from "../ref/platform.js";
import { parseReference, type Reference } from "../ref/reference.js";
import { RegistryClient, type ListOptions, type PingResult, type RegistryClientOptions, type RequestOptions } from "../registry/client.js";
import { RegistryStore } from "../store/registry-store.js";
import { fetchBytes, requireCapability, type ResolveOptions as StoreResolveOptions, type Store, type TagListOptions } from "../store/store.js";
import { catalogNamespaces, filterCatalog, type CatalogFilter } from "./catalog.js";
import { imageHistory, layerInfos, layersSize, newestCreated, platformImageOf, runtimeConfig, type HistoryEntry, type LayerInfo, type PlatformImage } from "./details.js";

export type { LayerInfo } from "./details.js";

export class Registry {
  readonly client: RegistryClient;
  /** The catalog as read once (dreg-client's cache), until refresh(). */
  private cachedCatalog: Promise<string[]> | undefined;

  constructor(registry: string | RegistryClient, options: RegistryClientOptions = {}) {
    this.client = typeof registry === "string" ? new RegistryClient(registry, options) : registry;
  }

  get host(): string {
    return this.client.registry;
  }

  /**
   * A repository of this registry: `repository("team/app")` or, as dreg-client allows,
   * `repository("app", "team")`; a namespace given twice (both forms at once) is a UsageError.
   */
  repository(name: string, namespace?: string): Repository {
    if (namespace !== undefined && name.includes("/")) {
      throw new UsageError(`repository ${JSON.stringify(name)} already names its namespace; give the namespace once ("${name}" alone, or the name without it and "${namespace}")`);
    }
    const full = namespace !== undefined && namespace !== "" ? `${namespace}/${name}` : name;
    return new Repository(new RegistryStore(this.client, full), { client: this.client, name: full });
  }

  /** Every repository name of the catalog, page after page, read afresh (not cached). */
  catalog(options?: ListOptions): AsyncIterable<string> {
    return this.client.catalog(options);
  }

  /** The catalog's names, read once and kept until refresh(). */
  async catalogNames(options?: ListOptions): Promise<string[]> {
    this.cachedCatalog ??= collect(this.client.catalog(options)).catch((err: unknown) => {
      this.cachedCatalog = undefined;
      throw err;
    });
    return [...(await this.cachedCatalog)];
  }

  /** Read the catalog again (dreg-client's refresh()): namespaces() and repositories() see it from now on. */
  async refresh(options?: ListOptions): Promise<void> {
    this.cachedCatalog = undefined;
    await this.catalogNames(options);
  }

  /**
   * The namespaces of the catalog (the part before the first "/"; "library" for a name without
   * one), each once, in catalog order. A RegExp or string filters namespaces; a CatalogFilter
   * keeps the namespaces that have a repository passing it.
   */
  async namespaces(filter: CatalogFilter | RegExp | string = {}, options?: ListOptions): Promise<string[]> {
    const asFilter: CatalogFilter = typeof filter === "string" || filter instanceof RegExp ? { namespace: filter } : filter;
    return catalogNamespaces(await this.catalogNames(options), asFilter);
  }

  /**
   * The catalog's repositories by full name (dreg-client's mapping), in catalog order: all, or
   * those of one namespace ("library" holds the names without "/"; an unknown one gives an empty
   * map), optionally filtered by regular expressions on namespace and name.
   */
  async repositories(namespace?: string, filter: CatalogFilter = {}, options?: ListOptions): Promise<Map<string, Repository>> {
    const names = filterCatalog(await this.catalogNames(options), filter).filter((n) => namespace === undefined || n.namespace === namespace);
    return new Map(names.map((n) => [n.name, this.repository(n.name)]));
  }

  /** GET /v2/ without credentials: is this a registry, which API version, which auth. A registry that does not answer is a NetworkError. */
  ping(options?: RequestOptions): Promise<PingResult> {
    return this.client.ping(options);
  }

  /**
   * GET /v2/ with the credentials (dreg-client's check_status): true when the registry answers
   * and accepts them, false when it refuses them (401/403, or its token server does). A registry
   * that cannot be reached is a NetworkError, not false: that is not a verdict on the credentials.
   */
  async authping(options?: RequestOptions): Promise<boolean> {
    try {
      await this.client.checkAuth(options);
      return true;
    } catch (err) {
      if (err instanceof QuaysideError && (err.category === "unauthorized" || err.category === "denied")) return false;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** What a Repository needs to do what only a registry can (delete): its client and its name there. */
export interface RegistryAccess {
  client: RegistryClient;
  /** The repository's name in the registry: "team/app". */
  name: string;
}

export interface ResolveOptions extends RequestOptions {
  /** For an index: the platform to pick. Default: this host's. */
  platform?: Platform | undefined;
}

export class Repository {
  constructor(
    readonly store: Store,
    /** Set for a registry repository (Registry.repository() sets it): what delete needs. */
    readonly registry?: RegistryAccess,
  ) {}

  /** The repository's name in its registry ("team/app"), else the store's location. */
  get name(): string {
    return this.registry?.name ?? this.store.location;
  }

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

  /** The manifest a tag or digest names (dreg-client's get_manifest): the same as manifest(). */
  getManifest(reference: string, options?: RequestOptions): Promise<Manifest> {
    return this.manifest(reference, options);
  }

  /**
   * The digest a tag or digest names, or null when there is none (dreg-client's check_manifest:
   * a HEAD on a registry). Other failures (unauthorized, network) are errors, not null.
   */
  async checkManifest(reference: string, options?: RequestOptions): Promise<string | null> {
    try {
      return (await this.store.resolve(reference, { ...options, descriptorOnly: true })).digest;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Delete a manifest by digest (manifests are deleted by digest, never by tag): EVERY tag on it
   * goes too. A registry repository only.
   */
  async deleteManifest(digest: string, options?: RequestOptions): Promise<void> {
    requireDigest(digest, "deleteManifest");
    await this.remote("delete a manifest").client.deleteManifest(this.name, digest, options);
  }

  /**
   * A blob as a stream that errors (DigestMismatchError / SizeMismatchError) instead of ending when
   * the bytes are not the ones named. A store other than a registry needs the blob's `size`.
   */
  async getBlob(digest: string, options: RequestOptions & { size?: number } = {}): Promise<Readable> {
    requireDigest(digest, "getBlob");
    const { size, ...request } = options;
    if (this.registry !== undefined) return this.registry.client.getBlob(this.registry.name, digest, { ...request, ...(size !== undefined ? { expectedSize: size } : {}) });
    if (size === undefined) throw new UsageError(`getBlob ${digest} from ${this.location}: give the blob's size (only a registry can be asked for a blob by digest alone)`);
    return this.store.fetch({ mediaType: "application/octet-stream", digest, size }, request);
  }

  /** Delete a blob by digest. A registry repository only; the registry must allow deletes. */
  async deleteBlob(digest: string, options?: RequestOptions): Promise<void> {
    requireDigest(digest, "deleteBlob");
    await this.remote("delete a blob").client.deleteBlob(this.name, digest, options);
  }

  /**
   * What a tag or digest names, as dreg-client's get_image() gives it: an index of platforms,
   * each of which getPlatformImage() reads. A single image is an index of one (its config is read
   * to know its platform). A schema 1 manifest is a ManifestError (it has no config).
   */
  async getImage(reference: string, options?: RequestOptions): Promise<ImageIndex> {
    return ImageIndex.of(this, await this.manifest(reference, options), reference, options);
  }

  private remote(what: string): RegistryAccess {
    if (this.registry === undefined) throw new UnsupportedError(`${this.location} cannot ${what}: only a registry repository can`);
    return this.registry;
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
    return layerInfos(this.manifest);
  }

  /** Compressed size as stored: manifest + config + layers (`inspect`'s totalSize). */
  get size(): number {
    return this.manifest.bytes.length + this.manifest.config.size + this.layersSize;
  }

  /** Sum of the compressed layer sizes: dreg-client's `image_size`, dockerreg's image size. */
  get layersSize(): number {
    return layersSize(this.manifest);
  }

  /** The config's `created`. */
  async created(options?: RequestOptions): Promise<string | undefined> {
    return (await this.config(options)).created;
  }

  /** The newest `created` of the history (dockerreg's get_image_created), else the config's. */
  async lastCreated(options?: RequestOptions): Promise<string | undefined> {
    return newestCreated(await this.config(options));
  }

  /** The build history, each command cleaned of `/bin/sh -c #(nop) ` and `# buildkit`. */
  async history(options?: RequestOptions): Promise<HistoryEntry[]> {
    return imageHistory(await this.config(options));
  }

  async labels(options?: RequestOptions): Promise<Record<string, string>> {
    return runtimeConfig(await this.config(options)).labels;
  }

  async env(options?: RequestOptions): Promise<string[]> {
    return runtimeConfig(await this.config(options)).env;
  }

  async entrypoint(options?: RequestOptions): Promise<string[] | undefined> {
    return runtimeConfig(await this.config(options)).entrypoint;
  }

  async cmd(options?: RequestOptions): Promise<string[] | undefined> {
    return runtimeConfig(await this.config(options)).cmd;
  }

  /** All of it at once, as plain data (dreg-client's PlatformImage): config read once. */
  async details(options?: RequestOptions): Promise<PlatformImage> {
    const config = await this.config(options);
    const platform = (await this.platformObject(options)) ?? { os: "unknown", architecture: "unknown" };
    return platformImageOf(this.manifest, config, platform, await this.platform(options));
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

/**
 * What a tag or digest names, seen as an index of platforms (dreg-client's Image): `platforms`,
 * and the image of each. A single image is an index of one, its platform read from its config.
 */
export class ImageIndex {
  private constructor(
    readonly repository: Repository,
    /** The tag or digest it was read by. */
    readonly reference: string,
    /** The manifest the reference names: an index, or the single image. */
    readonly manifest: IndexManifest | ImageManifest,
    /** One per platform, in the order of the index (attestations and entries without a platform left out). */
    readonly entries: readonly { platform: Platform; descriptor: Descriptor }[],
    /** The single image, already read. */
    private readonly single: Image | undefined,
  ) {}

  static async of(repository: Repository, top: Manifest, reference: string, options?: RequestOptions): Promise<ImageIndex> {
    if (isIndex(top)) {
      const entries = top.manifests.flatMap((descriptor) =>
        descriptor.platform !== undefined && !isAttestation(descriptor) ? [{ platform: descriptor.platform, descriptor }] : [],
      );
      return new ImageIndex(repository, reference, top, entries, undefined);
    }
    if (!isImage(top)) throw new ManifestError(`${repository.location}@${top.digest} is a Docker schema 1 manifest, which has no config blob and no platforms; read it with getManifest()`);
    const image = new Image(repository, top);
    const platform = (await image.platformObject(options)) ?? { os: "unknown", architecture: "unknown" };
    const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length, platform };
    return new ImageIndex(repository, reference, top, [{ platform, descriptor }], image);
  }

  /** The digest of what the reference names (the index's, or the single image's). */
  get digest(): string {
    return this.manifest.digest;
  }

  /** Is this a real index (false: a single image seen as an index of one)? */
  get isIndex(): boolean {
    return this.single === undefined;
  }

  /** The platforms it holds, each once. */
  get platforms(): Platform[] {
    const seen = new Set<string>();
    return this.entries.flatMap((e) => (seen.has(formatPlatform(e.platform)) ? [] : (seen.add(formatPlatform(e.platform)), [e.platform])));
  }

  /** The same as "os/arch[/variant]". */
  get platformNames(): string[] {
    return this.platforms.map(formatPlatform);
  }

  /**
   * The image for a platform ("linux/arm64" or a Platform; "arm64" is "arm64/v8"). A platform it
   * does not hold is a PlatformNotFoundError listing those it does.
   */
  async image(platform: Platform | string, options?: RequestOptions): Promise<Image> {
    const want = typeof platform === "string" ? parsePlatform(platform) : platform;
    if (this.single !== undefined) {
      const have = this.entries[0]?.platform;
      if (have === undefined || !platformMatches(want, have)) throw new PlatformNotFoundError(formatPlatform(want), this.platformNames, "the image is");
      return this.single;
    }
    const chosen = selectPlatform(
      this.entries.map((e) => e.descriptor),
      want,
    );
    const child = await this.repository.manifestAt(chosen, options);
    if (!isImage(child)) throw new ManifestError(`${this.repository.location}@${chosen.digest}: the index entry for ${formatPlatform(want)} is not an image manifest (${child.mediaType})`);
    return new Image(this.repository, child, this.manifest as IndexManifest, chosen);
  }

  /** One platform's image, read (dreg-client's get_platform_image): config, layers, size, created, history, labels, env, entrypoint, cmd. */
  async getPlatformImage(platform: Platform | string, options?: RequestOptions): Promise<PlatformImage> {
    return (await this.image(platform, options)).details(options);
  }

  /** Every platform's, in index order (dreg-client's get_platform_images). */
  async getPlatformImages(options?: RequestOptions): Promise<PlatformImage[]> {
    const out: PlatformImage[] = [];
    for (const platform of this.platforms) out.push(await this.getPlatformImage(platform, options));
    return out;
  }
}

/** Parse a reference string and open its registry and repository in one go. */
export function openReference(reference: string | Reference, options: RegistryClientOptions = {}): { registry: Registry; repository: Repository; reference: Reference } {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const registry = new Registry(ref.registry, options);
  return { registry, repository: registry.repository(ref.repository), reference: ref };
}

function requireDigest(digest: string, what: string): void {
  if (!isDigest(digest)) throw new InvalidDigestError(digest, `${what} takes a digest (algorithm:hex); a tag names no blob, and a manifest is deleted by digest`);
}
