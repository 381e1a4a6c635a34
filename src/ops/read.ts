/**
 * Read operations, one call each, on any location: a registry reference, "oci:DIR[:TAG]" or
 * "docker-archive:FILE[:REF]" (ping and catalog speak to a registry only).
 */
import { isNotFound, ManifestTypeError, UnexpectedMediaTypeError, UsageError } from "../errors.js";
import { Repository } from "../image/image.js";
import { summarize, type InspectSummary } from "../image/inspect.js";
import { isIndex, type ImageConfig, type Manifest } from "../media/manifest.js";
import { isSchema1MediaType, MediaType, sameManifestType, type Descriptor, type Platform } from "../media/types.js";
import { parsePlatform, selectPlatform } from "../ref/platform.js";
import { parseRepository } from "../ref/reference.js";
import type { PingResult } from "../registry/client.js";
import { parseLocation, type OpenedLocation } from "../store/locations.js";
import type { StoreOptions } from "../store/store.js";
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
export function getManifest(location: string, options: OperationOptions & PlatformOption & MediaTypeOption = {}): Promise<ManifestResult> {
  const tries = mediaTypeTries(options);
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    let found = tries === undefined ? await repository.manifest(imageName(opened), options) : await repository.manifestAt(await resolveOfType(opened, tries, options), options);
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
export function getDigest(location: string, options: OperationOptions & PlatformOption & MediaTypeOption = {}): Promise<DigestResult> {
  const tries = mediaTypeTries(options);
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    const name = imageName(opened);
    const platform = platformOf(options);
    let descriptor: Descriptor;
    if (platform === undefined) {
      descriptor = tries === undefined ? await repository.resolve(name, { ...options, descriptorOnly: true }) : await resolveOfType(opened, tries, { ...options, descriptorOnly: true });
    } else {
      const top = tries === undefined ? await repository.manifest(name, options) : await repository.manifestAt(await resolveOfType(opened, tries, options), options);
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

export interface MediaTypeOption {
  /**
   * Strict: a manifest of exactly this media type (pubtools-quay's `get_manifest(media_type=...)`);
   * a registry is asked for this type alone, and an image that has another is a ManifestTypeError.
   */
  mediaType?: string | undefined;
  /**
   * Preference: the first of these types the image has, asked in this order, one request each
   * (pubtools-quay's order is MANIFEST_PREFERENCE_ORDER). None of them: a ManifestTypeError that
   * lists what was served. Excludes `mediaType`.
   */
  preference?: readonly string[] | undefined;
}

/** The Accept lists to try in turn, or undefined for "any manifest type, one request". */
function mediaTypeTries(options: MediaTypeOption): (readonly string[])[] | undefined {
  if (options.mediaType !== undefined && options.preference !== undefined) throw new UsageError("mediaType and preference exclude each other");
  if (options.mediaType !== undefined) return [acceptFor(options.mediaType)];
  if (options.preference !== undefined) {
    if (options.preference.length === 0) throw new UsageError("preference: give at least one media type");
    return options.preference.map(acceptFor);
  }
  return undefined;
}

/** Schema 1 is asked for in both its forms: a registry serves the signed one when it has a signature. */
function acceptFor(mediaType: string): readonly string[] {
  return isSchema1MediaType(mediaType) ? [mediaType, ...[MediaType.DockerManifestV1Signed, MediaType.DockerManifestV1].filter((t) => t !== mediaType)] : [mediaType];
}

/**
 * The descriptor of the root manifest in the first of `tries` the store has: each try is one
 * request whose Accept is that list, and counts when the type answered is one of them. A
 * registry may answer a type it cannot serve with 404 (distribution does for an OCI index asked
 * as a Docker list), so a not-found only counts once every try has been made (and is a
 * ManifestTypeError if the image is there in another type); any other answer is a
 * ManifestTypeError naming what came instead. Stores holding one form of each manifest
 * (layouts, archives) just have their type checked.
 */
export async function resolveOfType(
  opened: Pick<OpenedLocation, "store" | "name" | "display">,
  tries: readonly (readonly string[])[],
  options: StoreOptions & { descriptorOnly?: boolean | undefined } = {},
): Promise<Descriptor> {
  const served: string[] = [];
  let notFound: unknown;
  for (const accept of tries) {
    try {
      const descriptor = await opened.store.resolve(imageName(opened), { signal: options.signal, descriptorOnly: options.descriptorOnly, accept });
      if (accept.some((type) => sameManifestType(type, descriptor.mediaType))) return descriptor;
      served.push(descriptor.mediaType);
    } catch (err) {
      if (err instanceof UnexpectedMediaTypeError) served.push(err.actual);
      else if (isNotFound(err)) notFound ??= err;
      else throw err;
    }
  }
  if (served.length === 0 && notFound !== undefined) {
    // Not found in any of those types: one more request, for any type, tells "not there at all"
    // from "there, in another type" (which is the ManifestTypeError).
    const other = await opened.store.resolve(imageName(opened), { signal: options.signal, descriptorOnly: true }).catch((err: unknown) => {
      if (isNotFound(err)) throw notFound;
      throw err;
    });
    served.push(other.mediaType);
  }
  const expected = [...new Set(tries.map((accept) => accept[0] ?? ""))];
  throw new ManifestTypeError(opened.display, expected, served);
}

export function platformOf(options: PlatformOption): Platform | undefined {
  const { platform } = options;
  return typeof platform === "string" ? parsePlatform(platform) : platform;
}

/** What names the image in its store; "" (nothing named) is the store's only image: an archive's, a layout's. */
export function imageName(opened: Pick<OpenedLocation, "name">): string {
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
