/**
 * Read operations, one call each, on any location: a registry reference, "oci:DIR[:TAG]" or
 * "docker-archive:FILE[:REF]" (ping and catalog speak to a registry only).
 */
import { Repository } from "../image/image.js";
import { summarize, type InspectSummary } from "../image/inspect.js";
import { isIndex, type ImageConfig, type Manifest } from "../media/manifest.js";
import type { Descriptor, Platform } from "../media/types.js";
import { parsePlatform, selectPlatform } from "../ref/platform.js";
import { parseRepository } from "../ref/reference.js";
import type { PingResult } from "../registry/client.js";
import { parseLocation, type OpenedLocation } from "../store/locations.js";
import { iterateWithPool, withLocation, withPool, type ClientPool, type OperationOptions } from "./pool.js";

export interface PlatformOption {
  /** For an index: the platform to use ("linux/arm64" or a Platform). */
  platform?: Platform | string | undefined;
}

export interface PingReport extends PingResult {
  registry: string;
}

/** Is REGISTRY a registry, which API version, how does it authenticate (no credentials sent). */
export function ping(registry: string, options: OperationOptions = {}): Promise<PingReport> {
  return withPool(options, async (pool) => ({ registry, ...(await pool.client(registry).ping(options)) }));
}

export interface ListingOptions extends OperationOptions {
  /** Ask for pages of this many entries (a registry may cap it). */
  pageSize?: number | undefined;
}

/** Every repository of a registry's catalog, every page. */
export function listCatalog(registry: string, options: ListingOptions = {}): AsyncIterable<string> {
  return iterateWithPool(options, (pool) => pool.client(registry).catalog(listOptions(options)));
}

export interface TagListing extends AsyncIterable<string> {
  /** What was listed, for messages and JSON: "host/repo" or the location as given. */
  readonly repository: string;
}

/** Every tag of a repository (every page), of an OCI layout, or of a docker archive. */
export function listTags(location: string, options: ListingOptions = {}): TagListing {
  const parsed = parseLocation(location);
  // A registry repository is named without a tag: "tags host/repo:1.0" is a mistake worth saying.
  const repository =
    parsed.scheme === "docker" ? Object.values(parseRepository(parsed.text.replace(/^docker:\/\//, ""))).join("/") : parsed.text;
  return {
    repository,
    [Symbol.asyncIterator]: () =>
      iterateWithPool(options, (pool) => iterateSource(pool, location, (opened) => new Repository(opened.store).tags(listOptions(options))))[Symbol.asyncIterator](),
  };
}

export interface ManifestResult {
  /** The location read, normalized for a registry ("docker.io/library/x:1"). */
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The exact bytes as stored (their sha256 is `digest`). */
  bytes: Uint8Array;
  manifest: Manifest;
}

/** The manifest a location names, exact bytes; with a platform on an index, that child's. */
export function getManifest(location: string, options: OperationOptions & PlatformOption = {}): Promise<ManifestResult> {
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    let found = await repository.manifest(imageName(opened), options);
    const platform = platformOf(options);
    if (platform !== undefined && isIndex(found)) found = await repository.manifestAt(selectPlatform(found.manifests, platform), options);
    return { reference: opened.display, digest: found.digest, mediaType: found.mediaType, size: found.bytes.length, bytes: found.bytes, manifest: found };
  });
}

export interface DigestResult {
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
}

/**
 * The digest a location names (of the index, or of one platform's image with a platform).
 * One request to a registry: a HEAD, or a GET of the index when a platform is to be picked.
 */
export function getDigest(location: string, options: OperationOptions & PlatformOption = {}): Promise<DigestResult> {
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    const name = imageName(opened);
    const platform = platformOf(options);
    let descriptor: Descriptor;
    if (platform === undefined) {
      descriptor = await repository.resolve(name, { ...options, descriptorOnly: true });
    } else {
      const top = await repository.manifest(name, options);
      descriptor = isIndex(top) ? selectPlatform(top.manifests, platform) : { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
    }
    return { reference: opened.display, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size };
  });
}

export interface ConfigResult {
  reference: string;
  /** The config blob's digest. */
  digest: string;
  mediaType: string;
  /** Its exact bytes. */
  bytes: Uint8Array;
  config: ImageConfig;
}

/**
 * The image config of a location. An index needs a platform: the one given, else this host's.
 * A single image whose platform is not the one given is a PlatformNotFoundError.
 */
export function getConfig(location: string, options: OperationOptions & PlatformOption = {}): Promise<ConfigResult> {
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    const top = await repository.manifest(imageName(opened), options);
    const image = await repository.imageOf(top, { ...options, platform: platformOf(options), strictPlatform: true });
    const bytes = await image.configBytes(options);
    return { reference: opened.display, digest: image.manifest.config.digest, mediaType: image.manifest.config.mediaType, bytes, config: await image.config() };
  });
}

/**
 * A summary of a location: an index (digest, platforms, entries) or, for an image or an index
 * with a platform, the image (platform, created, config, layers, size). Registry requests: 1
 * for an index, 3 for an index with a platform (index, image, config), 2 for an image.
 */
export function inspect(location: string, options: OperationOptions & PlatformOption = {}): Promise<InspectSummary> {
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    const top = await repository.manifest(imageName(opened), options);
    return summarize(repository, top, opened.display, { ...options, platform: platformOf(options) });
  });
}

export function platformOf(options: PlatformOption): Platform | undefined {
  const { platform } = options;
  return typeof platform === "string" ? parsePlatform(platform) : platform;
}

/** What names the image in its store; "" (nothing named) is the store's only image: an archive's, a layout's. */
export function imageName(opened: OpenedLocation): string {
  return opened.name ?? "";
}

function listOptions(options: ListingOptions): { signal?: AbortSignal; pageSize?: number } {
  return { ...(options.signal ? { signal: options.signal } : {}), ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}) };
}


async function* iterateSource<T>(pool: ClientPool, location: string, list: (opened: OpenedLocation) => AsyncIterable<T>): AsyncGenerator<T> {
  const opened = await pool.open(location, "source");
  try {
    yield* list(opened);
  } finally {
    await opened.store.close();
  }
}
