/**
 * python-dxf's blob store with aliases, on a registry repository: an alias is a tag on a schema-2
 * manifest that lists blobs (the first also as the config). Set one, read its blobs back (with
 * sizes, per platform for a multi-arch alias), its config digest, delete it, list them, and
 * stream the blobs of aliases and digests one after the other (`dxf pull-blob REPO @ALIAS`).
 */
import { PassThrough, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isDigest, parseDigest } from "../digest/digest.js";
import { InvalidReferenceError, isNotFound, NotFoundError, PlatformNotFoundError, UnsupportedError, UsageError } from "../errors.js";
import { aliasBlobs, aliasPlatforms, buildAliasManifest } from "../media/alias.js";
import { isImage, isIndex, type ImageManifest, type Manifest } from "../media/manifest.js";
import { MediaType, type Descriptor, type Platform } from "../media/types.js";
import { formatPlatform, parsePlatform, selectPlatform } from "../ref/platform.js";
import { isValidTag, parseRepository } from "../ref/reference.js";
import type { RegistryClient } from "../registry/client.js";
import { writeStreamAtomic } from "../util/atomic-file.js";
import { forEachLimit } from "../util/limit.js";
import type { BlobInfo } from "./blob.js";
import { iterateWithPool, withPool, type OperationOptions } from "./pool.js";

/** Blob HEADs (setAlias) and child manifests (multi-arch aliases) read at once. */
const CONCURRENCY = 4;

/** Per platform name ("linux/amd64", "linux/arm/v7"): what a multi-arch alias gives. */
export type PlatformMap<T> = Record<string, T>;

export interface AliasOptions extends OperationOptions {
  /**
   * For a multi-arch alias (an index): this platform only, instead of one entry per platform.
   * Matched by name first ("linux/arm/v7" as written in the index), then as a platform.
   */
  platform?: string | Platform | undefined;
}

export interface GetAliasOptions extends AliasOptions {
  /** Each blob with its size (from the manifest: no extra request). */
  sizes?: boolean | undefined;
}

export interface SetAliasResult {
  /** "host/repo" */
  repository: string;
  alias: string;
  /** The manifest's digest. */
  digest: string;
  mediaType: string;
  /** The manifest text written, as dxf's set_alias returns it. */
  manifest: string;
  blobs: BlobInfo[];
}

export interface SetAliasManifestResult {
  repository: string;
  alias: string;
  digest: string;
  mediaType: string;
}

export interface DeleteAliasResult {
  repository: string;
  alias: string;
  /** The manifest deleted (by digest). */
  deleted: string;
  /**
   * What the alias pointed to: its blob digests, or for a multi-arch alias the digest of each
   * platform's manifest (those remain: delete each with deleteAlias).
   */
  digests: string[] | PlatformMap<string>;
  /** Deleting by digest removes every tag on that manifest, not only this alias. */
  note: string;
}

/**
 * Name a list of blobs ALIAS in REPO (dxf's set_alias): a schema-2 manifest whose config is the
 * first blob and whose layers are all of them, in order, their sizes asked of the registry (each
 * must be there). Returns the manifest written. Digests as rest arguments, or as one array
 * followed by the options.
 */
export function setAlias(repository: string, alias: string, ...digests: string[]): Promise<SetAliasResult>;
export function setAlias(repository: string, alias: string, digests: readonly string[], options?: OperationOptions): Promise<SetAliasResult>;
export function setAlias(repository: string, alias: string, ...rest: unknown[]): Promise<SetAliasResult> {
  const [first, second] = rest;
  const digests = Array.isArray(first) ? (first as readonly string[]) : (rest as string[]);
  const options = Array.isArray(first) ? ((second as OperationOptions | undefined) ?? {}) : {};
  const { registry, repository: name } = parseRepository(repository);
  requireTag(alias, `${registry}/${name}`);
  if (digests.length === 0) throw new UsageError(`alias ${registry}/${name}:${alias}: give at least one blob digest`);
  for (const digest of digests) {
    // dxf's set-alias hashes file names it is given; here the blobs are pushed first.
    if (!digest.includes(":")) throw new UsageError(`alias ${registry}/${name}:${alias}: ${JSON.stringify(digest.slice(0, 100))} is not a blob digest; push a file first (quayside blob put ${registry}/${name} FILE prints its digest)`);
    parseDigest(digest);
  }
  return withPool(options, async (pool) => {
    const client = pool.client(registry);
    const blobs: BlobInfo[] = digests.map((digest) => ({ digest, size: -1 }));
    await forEachLimit(blobs, CONCURRENCY, async (blob) => {
      blob.size = (await client.headBlob(name, blob.digest, options)).size;
    });
    const manifest = buildAliasManifest(blobs);
    const stored = await client.putManifest(name, alias, new TextEncoder().encode(manifest), { ...options, mediaType: MediaType.DockerManifestV2 });
    return { repository: `${registry}/${name}`, alias, digest: stored.digest, mediaType: stored.mediaType, manifest, blobs };
  });
}

/** Put manifest JSON under ALIAS exactly as given (dxf's set_manifest), with its own mediaType as the Content-Type. */
export function setAliasManifest(repository: string, alias: string, manifest: string | Uint8Array, options: OperationOptions = {}): Promise<SetAliasManifestResult> {
  const { registry, repository: name } = parseRepository(repository);
  requireTag(alias, `${registry}/${name}`);
  const bytes = typeof manifest === "string" ? new TextEncoder().encode(manifest) : manifest;
  return withPool(options, async (pool) => {
    const stored = await pool.client(registry).putManifest(name, alias, bytes, { ...options, ...declaredMediaType(bytes) });
    return { repository: `${registry}/${name}`, alias, digest: stored.digest, mediaType: stored.mediaType };
  });
}

/**
 * The blobs ALIAS names (dxf's get_alias), in order: digests, or with `sizes` digests and sizes.
 * A multi-arch alias gives one list per platform ("os/arch[/variant]"), or with `platform` that
 * platform's list. ALIAS may also be a manifest digest.
 */
export function getAlias(repository: string, alias: string, options: GetAliasOptions & { sizes: true; platform: string | Platform }): Promise<BlobInfo[]>;
export function getAlias(repository: string, alias: string, options: GetAliasOptions & { sizes?: false | undefined; platform: string | Platform }): Promise<string[]>;
export function getAlias(repository: string, alias: string, options: GetAliasOptions & { sizes: true }): Promise<BlobInfo[] | PlatformMap<BlobInfo[]>>;
export function getAlias(repository: string, alias: string, options?: GetAliasOptions & { sizes?: false | undefined }): Promise<string[] | PlatformMap<string[]>>;
export function getAlias(repository: string, alias: string, options?: GetAliasOptions): Promise<string[] | BlobInfo[] | PlatformMap<string[]> | PlatformMap<BlobInfo[]>>;
export function getAlias(repository: string, alias: string, options: GetAliasOptions = {}): Promise<string[] | BlobInfo[] | PlatformMap<string[]> | PlatformMap<BlobInfo[]>> {
  if (options.sizes === true) return readAlias(repository, alias, options, (manifest): BlobInfo[] => aliasBlobs(manifest));
  return readAlias(repository, alias, options, (manifest) => aliasBlobs(manifest).map((b) => b.digest));
}

/**
 * The config digest of ALIAS (dxf's get_digest): for an alias set by dxf or quayside, its first
 * blob; for an image, its image ID (`docker inspect --format '{{.Id}}'`). Per platform for a
 * multi-arch alias, unless `platform` picks one.
 */
export function getAliasDigest(repository: string, alias: string, options: AliasOptions & { platform: string | Platform }): Promise<string>;
export function getAliasDigest(repository: string, alias: string, options?: AliasOptions): Promise<string | PlatformMap<string>>;
export function getAliasDigest(repository: string, alias: string, options: AliasOptions = {}): Promise<string | PlatformMap<string>> {
  return readAlias(repository, alias, options, (manifest) => manifest.config.digest);
}

/**
 * Delete ALIAS (dxf's del_alias): its manifest is deleted BY DIGEST, so every other tag on the same
 * manifest goes too (untag removes one tag alone); the blobs stay. Returns what it pointed to.
 */
export function deleteAlias(repository: string, alias: string, options: OperationOptions = {}): Promise<DeleteAliasResult> {
  const { registry, repository: name } = parseRepository(repository);
  requireAlias(alias, `${registry}/${name}`);
  return withPool(options, async (pool) => {
    const client = pool.client(registry);
    const top = await fetchAlias(client, name, alias, `${registry}/${name}`, options);
    let digests: string[] | PlatformMap<string>;
    if (isIndex(top)) {
      digests = {};
      for (const [platform, entry] of aliasPlatforms(top)) digests[platform] = entry.digest;
    } else {
      digests = aliasBlobs(requireImage(top, `${registry}/${name}:${alias}`)).map((b) => b.digest);
    }
    await client.deleteManifest(name, top.digest, options);
    return {
      repository: `${registry}/${name}`,
      alias,
      deleted: top.digest,
      digests,
      note: `deleted manifest ${top.digest} by digest: every tag on it is gone, not only ${alias}; the blobs remain`,
    };
  });
}

/** Every alias (tag) of REPO, every page (dxf's list_aliases). */
export function listAliases(repository: string, options: OperationOptions & { pageSize?: number | undefined } = {}): AsyncIterable<string> {
  const { registry, repository: name } = parseRepository(repository);
  const list = { ...(options.signal ? { signal: options.signal } : {}), ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}) };
  return iterateWithPool(options, (pool) => pool.client(registry).tags(name, list));
}

export interface PullBlobsResult {
  repository: string;
  /** Every blob written, in order. */
  blobs: BlobInfo[];
  /** Their total size. */
  size: number;
  /** The file written, when the destination was a path. */
  path?: string;
}

export interface PullBlobsOptions extends AliasOptions {
  /** Bytes written so far, of the total of every blob (known before the first byte). */
  onProgress?: ((bytes: number, total: number) => void) | undefined;
}

/**
 * Stream blobs of REPO one after the other into a file (atomically) or a stream (left open), as
 * `dxf pull-blob REPO NAME...` does: each NAME a blob digest or "@ALIAS" (the alias's blobs, in
 * order). A multi-arch alias needs `platform`. Every blob is verified against its digest.
 */
export function pullBlobs(repository: string, names: readonly string[], destination: string | Writable, options: PullBlobsOptions = {}): Promise<PullBlobsResult> {
  const { registry, repository: name } = parseRepository(repository);
  const where = `${registry}/${name}`;
  if (names.length === 0) throw new UsageError(`${where}: give blob digests or @ALIAS names to read`);
  checkNames(names, where);
  return withPool(options, async (pool) => {
    const client = pool.client(registry);
    // Every name resolved before a byte is written: a missing alias leaves nothing behind.
    const blobs: BlobInfo[] = [];
    for (const entry of names) {
      if (!entry.startsWith("@")) blobs.push(await client.headBlob(name, entry, options).then((d) => ({ digest: d.digest, size: d.size })));
      else blobs.push(...aliasBlobs(await aliasImage(client, name, entry.slice(1), where, options)));
    }
    const size = blobs.reduce((total, b) => total + b.size, 0);
    const concatenated = new PassThrough();
    const onProgress = options.onProgress;
    onProgress?.(0, size);
    const feed = (async () => {
      let before = 0;
      for (const blob of blobs) {
        const offset = before;
        const stream = await client.getBlob(name, blob.digest, {
          signal: options.signal,
          expectedSize: blob.size,
          ...(onProgress ? { onProgress: (bytes: number) => onProgress(offset + bytes, size) } : {}),
        });
        await pipeline(stream, concatenated, { end: false });
        before += blob.size;
      }
      concatenated.end();
    })();
    feed.catch((err: unknown) => concatenated.destroy(err instanceof Error ? err : new Error(String(err))));
    if (typeof destination === "string") {
      await Promise.all([writeStreamAtomic(destination, concatenated), feed]);
      return { repository: where, blobs, size, path: destination };
    }
    await Promise.all([pipeline(concatenated, destination, { end: false }), feed]);
    return { repository: where, blobs, size };
  });
}

export interface BlobSizesResult {
  repository: string;
  /** In the order asked: a digest's size, an alias's total, or a multi-arch alias's total per platform. */
  sizes: { name: string; size: number | PlatformMap<number> }[];
}

/**
 * Sizes as `dxf blob-size REPO NAME...` gives them: for a blob digest its size (a HEAD), for
 * "@ALIAS" the total of its blobs (from the manifest), per platform for a multi-arch alias
 * unless `platform` picks one.
 */
export function blobSizes(repository: string, names: readonly string[], options: AliasOptions = {}): Promise<BlobSizesResult> {
  const { registry, repository: name } = parseRepository(repository);
  const where = `${registry}/${name}`;
  if (names.length === 0) throw new UsageError(`${where}: give blob digests or @ALIAS names to size`);
  checkNames(names, where);
  return withPool(options, async (pool) => {
    const client = pool.client(registry);
    const sizes: BlobSizesResult["sizes"] = [];
    for (const entry of names) {
      const size = entry.startsWith("@")
        ? await readAliasWith(client, name, entry.slice(1), where, options, (manifest) => aliasBlobs(manifest).reduce((total, b) => total + b.size, 0))
        : (await client.headBlob(name, entry, options)).size;
      sizes.push({ name: entry, size });
    }
    return { repository: where, sizes };
  });
}

// ---------------------------------------------------------------------------------------------

/** Each a blob digest or "@ALIAS". */
function checkNames(names: readonly string[], where: string): void {
  for (const entry of names) {
    if (entry.startsWith("@")) requireAlias(entry.slice(1), where);
    else if (!isDigest(entry)) throw new UsageError(`${where}: ${JSON.stringify(entry).slice(0, 100)} is neither a blob digest (sha256:...) nor an alias (@NAME)`);
  }
}

/** Read ALIAS and give `pick` of its image, or of each platform's (one when `platform` is given). */
async function readAlias<T>(repository: string, alias: string, options: AliasOptions, pick: (manifest: ImageManifest) => T): Promise<T | PlatformMap<T>> {
  const { registry, repository: name } = parseRepository(repository);
  const where = `${registry}/${name}`;
  requireAlias(alias, where);
  return withPool(options, (pool) => readAliasWith(pool.client(registry), name, alias, where, options, pick));
}

async function readAliasWith<T>(client: RegistryClient, name: string, alias: string, where: string, options: AliasOptions, pick: (manifest: ImageManifest) => T): Promise<T | PlatformMap<T>> {
  const top = await fetchAlias(client, name, alias, where, options);
  if (!isIndex(top)) return pick(requireImage(top, `${where}:${alias}`));
  const platforms = aliasPlatforms(top);
  if (options.platform !== undefined) {
    const entry = choosePlatform(platforms, options.platform);
    return pick(requireImage(await client.getManifest(name, entry.digest, options), `${where}@${entry.digest}`));
  }
  const result: PlatformMap<T> = {};
  const entries = [...platforms];
  const picked = new Map<string, T>();
  await forEachLimit(entries, CONCURRENCY, async ([platform, entry]) => {
    picked.set(platform, pick(requireImage(await client.getManifest(name, entry.digest, options), `${where}@${entry.digest}`)));
  });
  for (const [platform] of entries) result[platform] = picked.get(platform) as T;
  return result;
}

/** The image an alias names; a multi-arch alias needs options.platform. */
async function aliasImage(client: RegistryClient, name: string, alias: string, where: string, options: AliasOptions): Promise<ImageManifest> {
  const top = await fetchAlias(client, name, alias, where, options);
  if (!isIndex(top)) return requireImage(top, `${where}:${alias}`);
  const platforms = aliasPlatforms(top);
  if (options.platform === undefined) {
    throw new UsageError(`${where}:${alias} is a multi-arch alias: choose a platform (${[...platforms.keys()].join(", ") || "none listed"}) with --platform`);
  }
  const entry = choosePlatform(platforms, options.platform);
  return requireImage(await client.getManifest(name, entry.digest, options), `${where}@${entry.digest}`);
}

/** The manifest ALIAS names; a missing one is an error that says how to list what there is. */
async function fetchAlias(client: RegistryClient, name: string, alias: string, where: string, options: OperationOptions): Promise<Manifest> {
  try {
    return await client.getManifest(name, alias, options);
  } catch (err) {
    if (!isNotFound(err) || isDigest(alias)) throw err;
    throw new NotFoundError(`alias ${alias} not found in ${where} (quayside alias list ${where} lists its aliases)`, { cause: err, code: "MANIFEST_UNKNOWN" });
  }
}

/** By name as written in the index (dxf's way), else the best match for the platform. */
function choosePlatform(platforms: Map<string, Descriptor>, wanted: string | Platform): Descriptor {
  const named = typeof wanted === "string" ? platforms.get(wanted) : undefined;
  if (named !== undefined) return named;
  const platform = typeof wanted === "string" ? parsePlatform(wanted) : wanted;
  try {
    return selectPlatform([...platforms.values()], platform);
  } catch (err) {
    if (err instanceof PlatformNotFoundError) throw new PlatformNotFoundError(formatPlatform(platform), [...platforms.keys()]);
    throw err;
  }
}

function requireImage(manifest: Manifest, where: string): ImageManifest {
  if (isImage(manifest)) return manifest;
  throw new UnsupportedError(`${where} is a ${manifest.mediaType} manifest: an alias names a schema-2 or OCI image manifest (or an index of them)`);
}

function requireTag(alias: string, where: string): void {
  if (!isValidTag(alias)) throw new InvalidReferenceError(alias, "tag", `is not a valid alias for ${where}: an alias is a tag (letters, digits, _ . -, up to 128 characters)`);
}

/** An alias to read or delete: a tag, or a manifest digest (a multi-arch alias's platforms are). */
function requireAlias(alias: string, where: string): void {
  if (!isDigest(alias)) requireTag(alias, where);
}

/** The JSON's own mediaType, as dxf's set_manifest sends it; absent, putManifest detects the type by shape. */
function declaredMediaType(bytes: Uint8Array): { mediaType?: string } {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const mediaType = typeof parsed === "object" && parsed !== null ? (parsed as { mediaType?: unknown }).mediaType : undefined;
    return typeof mediaType === "string" ? { mediaType } : {};
  } catch {
    return {};
  }
}
