/**
 * dockerreg's registry-level helpers, with its meaning, on any location a read takes (registry
 * references, oci:, docker-archive:): an image's size, when it was built, its metadata, whether it
 * exists; tag and delete; copy to another registry, repository or tag with credentials per side;
 * pull into and push from a local directory holding an OCI image layout. Each is built on the
 * operations that already exist (copy, tag, untag, check) rather than beside them.
 */
import type { Credential } from "../auth/credentials.js";
import { isNotFound, UsageError } from "../errors.js";
import type { LayerInfo } from "../image/details.js";
import { Repository, type Image } from "../image/image.js";
import { isValidTag } from "../ref/reference.js";
import { parseLocation } from "../store/locations.js";
import { check, copy, tag, type CopyOperationOptions, type CopyReport, type TagResult } from "./copy.js";
import { untag, type UntagResult } from "./delete.js";
import { ClientPool, withLocation, type OperationOptions } from "./pool.js";
import { imageName, platformOf, type PlatformOption } from "./read.js";

export type ImageReadOptions = OperationOptions & PlatformOption;

/** The image a location names; for an index, the platform given (else this host's). */
function withImage<T>(location: string, options: ImageReadOptions, work: (image: Image, display: string) => Promise<T>): Promise<T> {
  return withLocation(options, location, async (opened) => {
    const repository = new Repository(opened.store);
    const top = await repository.manifest(imageName(opened), options);
    const image = await repository.imageOf(top, { ...options, platform: platformOf(options), strictPlatform: true });
    return work(image, opened.display);
  });
}

/**
 * dockerreg's get_image_size: the sum of the image's compressed layer sizes, in bytes (manifest and
 * config not counted). For an index: the platform given, else this host's.
 */
export function getImageSize(location: string, options: ImageReadOptions = {}): Promise<number> {
  return withImage(location, options, async (image) => image.layersSize);
}

/**
 * dockerreg's get_image_created: when the image was last built, the newest `created` of its
 * history (else the config's `created`), as the config writes it (RFC 3339). Undefined when the
 * config says neither.
 */
export function getImageCreated(location: string, options: ImageReadOptions = {}): Promise<string | undefined> {
  return withImage(location, options, (image) => image.lastCreated(options));
}

export interface ImageMetadata {
  /** The location read, normalized for a registry ("docker.io/library/x:1"). */
  reference: string;
  /** For a registry reference: where it is and what it names. */
  registry?: string;
  repository?: string;
  tag?: string;
  /** The digest of the image manifest described (the platform's, for an index). */
  digest: string;
  mediaType: string;
  /** The index it was picked from, if any. */
  indexDigest?: string;
  /** "os/arch[/variant]". */
  platform: string;
  os?: string;
  architecture?: string;
  variant?: string;
  /** Sum of the compressed layer sizes. */
  size: number;
  /** The config's `created`. */
  created?: string;
  /** The newest `created` of the history (getImageCreated). */
  lastCreated?: string;
  config: LayerInfo;
  layers: LayerInfo[];
  labels: Record<string, string>;
}

/** dockerreg's get_image_metadata: what the reference names, with the image's size, platform and layers. */
export function getImageMetadata(location: string, options: ImageReadOptions = {}): Promise<ImageMetadata> {
  const parsed = parseLocation(location);
  return withImage(location, options, async (image, display) => {
    const details = await image.details(options);
    const lastCreated = await image.lastCreated(options);
    const { os, architecture, variant } = details.config;
    const ref = parsed.scheme === "docker" ? parsed.reference : undefined;
    return {
      reference: display,
      ...(ref !== undefined ? { registry: ref.registry, repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) } : {}),
      digest: details.digest,
      mediaType: details.mediaType,
      ...(image.index !== undefined ? { indexDigest: image.index.digest } : {}),
      platform: details.platformName,
      ...(os !== undefined ? { os } : {}),
      ...(architecture !== undefined ? { architecture } : {}),
      ...(variant !== undefined ? { variant } : {}),
      size: details.size,
      ...(details.created !== undefined ? { created: details.created } : {}),
      ...(lastCreated !== undefined ? { lastCreated } : {}),
      config: details.configDescriptor,
      layers: details.layers,
      labels: details.labels,
    };
  });
}

/** dockerreg's tag_image: the same as tag() (NEWTAG in the same repository, or a full reference elsewhere). */
export function tagImage(location: string, newTag: string, options: CopyOperationOptions = {}): Promise<TagResult> {
  return tag(location, newTag, options);
}

/**
 * dockerreg's delete_tag: REPOSITORY:TAG stops naming its image; the manifest and its other tags
 * stay (the same as untag()). To delete the manifest itself, with every tag on it, deleteImage().
 */
export function deleteTag(reference: string, options: OperationOptions = {}): Promise<UntagResult> {
  return untag(reference, options);
}

/**
 * Does the location name an image? By default: its manifest resolves (a HEAD on a registry);
 * not found is false, other failures (unauthorized, network) are errors. With `complete`,
 * dockerreg's check_image: every manifest and blob of it is present (as check() reports).
 */
export async function imageExists(location: string, options: OperationOptions & { complete?: boolean | undefined } = {}): Promise<boolean> {
  try {
    if (options.complete) return (await check(location, options)).complete;
    return await withLocation(options, location, async (opened) => {
      await opened.store.resolve(imageName(opened), { ...options, descriptorOnly: true });
      return true;
    });
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** How one side of a transfer authenticates: explicit credentials, or a Docker / containers config file. */
export interface SideAccess {
  credentials?: Credential | undefined;
  authFile?: string | undefined;
}

export interface PullAndPushOptions extends CopyOperationOptions {
  /** The source's credentials (else the pool's, or the usual config files). */
  source?: SideAccess | undefined;
  /** The destination's credentials (else the pool's, or the usual config files). */
  destination?: SideAccess | undefined;
}

/**
 * dockerreg's pull_and_push_image: copy the image a reference names to another registry, another
 * repository, or another tag of its repository (DESTINATION a bare tag), each side with its own
 * credentials if given. Digests unchanged; blobs present skipped, mounted within one registry.
 */
export async function pullAndPushImage(source: string, destination: string, options: PullAndPushOptions = {}): Promise<CopyReport> {
  const { source: from = {}, destination: to = {}, ...copyOptions } = options;
  const target = isBareTag(destination) ? retag(source, destination) : destination;
  const opened: ClientPool[] = [];
  // Explicit credentials need a client of their own: a pool per side, closed at the end.
  const sidePool = (access: SideAccess): ClientPool | undefined => {
    if (access.credentials === undefined) return undefined;
    if (access.authFile !== undefined) throw new UsageError("a side's credentials and auth file exclude each other");
    const { pool: _pool, signal: _signal, sourceAuthFile: _s, destinationAuthFile: _d, ...base } = copyOptions;
    const pool = new ClientPool({ ...(copyOptions.pool?.options ?? base), credentials: access.credentials, authFile: undefined });
    opened.push(pool);
    return pool;
  };
  try {
    return await copy(source, target, {
      ...copyOptions,
      sourcePool: sidePool(from),
      destinationPool: sidePool(to),
      ...(from.authFile !== undefined ? { sourceAuthFile: from.authFile } : {}),
      ...(to.authFile !== undefined ? { destinationAuthFile: to.authFile } : {}),
    });
  } finally {
    await Promise.all(opened.map((p) => p.close()));
  }
}

function isBareTag(text: string): boolean {
  return !text.includes("/") && isValidTag(text);
}

/** SOURCE with another tag (its digest dropped). */
function retag(source: string, newTag: string): string {
  const parsed = parseLocation(source);
  if (parsed.scheme !== "docker") throw new UsageError(`a bare tag (${newTag}) as destination needs a registry reference as source, not ${source}`);
  return parsed.reference.withTag(newTag).toString();
}

export interface PullImageOptions extends CopyOperationOptions {
  /** Read the reference at the registry again even when the directory holds it complete; new content is fetched (unchanged blobs, named by digest, are still kept). */
  refresh?: boolean | undefined;
  /** The tag in the layout (default: the reference's tag; a digest reference is stored untagged, by digest). */
  tag?: string | undefined;
}

export interface PullImageResult {
  /** The reference pulled, as given. */
  source: string;
  directory: string;
  /** The layout location written: "oci:DIR:TAG" or "oci:DIR@DIGEST". */
  location: string;
  /** The digest now in the layout under that name. */
  digest: string;
  /** True when the directory already held the image complete and nothing was read from the registry. */
  reused: boolean;
  /** The copy made (absent when reused). */
  copy?: CopyReport;
}

/**
 * dockerreg's pull_image: the image a reference names into DIRECTORY as an OCI image layout
 * (readable by skopeo, umoci, `quayside`). What the directory already holds is re-used: when the
 * tag is there with every blob, nothing is asked of the registry (unless `refresh`); otherwise the
 * copy fetches only the blobs missing on disk.
 */
export async function pullImage(source: string, directory: string, options: PullImageOptions = {}): Promise<PullImageResult> {
  const parsed = parseLocation(source);
  const sourceTag = parsed.scheme === "docker" ? parsed.reference.tag : undefined;
  const sourceDigest = parsed.scheme === "docker" ? parsed.reference.digest : undefined;
  const layoutTag = options.tag ?? sourceTag ?? (sourceDigest === undefined ? "latest" : undefined);
  if (layoutTag !== undefined && !isValidTag(layoutTag)) throw new UsageError(`${layoutTag} is not a valid tag for the layout`);
  const location = layoutTag !== undefined ? `oci:${directory}:${layoutTag}` : `oci:${directory}@${sourceDigest as string}`;
  const { refresh, tag: _tag, ...copyOptions } = options;
  if (!refresh) {
    // No layout yet, or one without that name or incomplete: the copy below makes or completes it
    // (and reports whatever is really wrong with the directory).
    const held = await check(location, { ...copyOptions, platforms: copyOptions.platforms }).catch(() => undefined);
    if (held?.complete) return { source, directory, location, digest: held.root.digest, reused: true };
  }
  const report = await copy(source, location, copyOptions);
  return { source, directory, location, digest: report.destination.digest, reused: false, copy: report };
}

export interface PushImageOptions extends CopyOperationOptions {
  /** The layout's tag to push (default: the destination's tag; without one, the layout's only image). */
  tag?: string | undefined;
}

/**
 * dockerreg's push_image: the image an OCI layout in DIRECTORY holds, pushed to a registry
 * reference. Blobs the registry has are skipped; the tag is written last.
 */
export function pushImage(directory: string, destination: string, options: PushImageOptions = {}): Promise<CopyReport> {
  const { tag: layoutTag, ...copyOptions } = options;
  const parsed = parseLocation(destination);
  const name = layoutTag ?? (parsed.scheme === "docker" ? parsed.reference.tag : undefined);
  return copy(name !== undefined ? `oci:${directory}:${name}` : `oci:${directory}`, destination, copyOptions);
}
