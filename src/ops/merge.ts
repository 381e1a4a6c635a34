/**
 * `index merge SRC DST`: pubtools-quay's ManifestListMerger. DST's list becomes SRC's entries
 * plus DST's entries for platforms SRC lacks; SRC's children that DST's repository lacks are
 * copied there first (through the one copy engine), every child keeps its digest, and DST's tag
 * is moved last, so it never names an index whose children are missing.
 */
import { copyImage, type BlobOutcome, type CopyEvent } from "../copy/copy.js";
import { isNotFound, ManifestError, ManifestTypeError, UsageError } from "../errors.js";
import { mergeIndexes, type PlatformMatch } from "../media/index-merge.js";
import { isIndex, parseManifest, type IndexManifest } from "../media/manifest.js";
import { isIndexMediaType, MediaType, type Descriptor } from "../media/types.js";
import { formatPlatform } from "../ref/platform.js";
import type { OpenedLocation } from "../store/locations.js";
import { fetchBytes, requireCapability, type Store } from "../store/store.js";
import { withPool, type OperationOptions } from "./pool.js";
import { requireWrittenTarget } from "./put-manifest.js";
import { imageName } from "./read.js";

export interface MergeIndexOptions extends OperationOptions {
  /** "platform" (default: os/architecture/variant, normalized) or "architecture" (pubtools' rule). */
  match?: PlatformMatch | undefined;
  /** Blobs copied at once while a missing child is copied (default 4). */
  jobs?: number | undefined;
  /** Progress of the children copied (the copy engine's events). */
  onEvent?: ((event: CopyEvent) => void) | undefined;
}

/** One entry of an index, as the report shows it. */
export interface MergeEntry {
  digest: string;
  mediaType: string;
  size: number;
  /** os/arch[/variant], or undefined for an entry without a platform. */
  platform: string | undefined;
}

export interface MergeIndexReport {
  /** The source and destination as given. */
  source: string;
  destination: string;
  /** The merged index now tagged at the destination. */
  digest: string;
  /** The source's media type (a Docker manifest list or an OCI index). */
  mediaType: string;
  size: number;
  /** The source index's digest (equal to `digest` when nothing of the destination was kept). */
  sourceDigest: string;
  /** What the destination's tag named before, or undefined when it named nothing (the result is then the source's list). */
  previousDigest: string | undefined;
  /** Entries of the result, in order: the source's, then the destination's kept ones. */
  fromSource: MergeEntry[];
  fromDestination: MergeEntry[];
  /** The destination's entries dropped because the source has their platform. */
  replaced: MergeEntry[];
  /** Source children the destination's repository lacked, copied there before the index was pushed. */
  copied: MergeEntry[];
  /** Blobs of those copies. */
  blobs: Record<BlobOutcome, number>;
  /** Bytes streamed by those copies. */
  bytes: number;
  /** The destination named the merged index already: nothing was written. */
  unchanged: boolean;
}

const INDEX_TYPES = [MediaType.DockerManifestList, MediaType.OciIndex] as const;

/** Merge the index SRC names into the one DST names, and tag the result at DST. */
export async function mergeIndex(source: string, destination: string, options: MergeIndexOptions = {}): Promise<MergeIndexReport> {
  // The tag to move is written out, as pubtools' image URLs are.
  requireWrittenTarget(destination);
  if (options.match !== undefined && options.match !== "platform" && options.match !== "architecture") {
    throw new UsageError(`match must be "platform" or "architecture", not ${JSON.stringify(options.match)}`);
  }
  return withPool(options, async (pool) => {
    const from = await pool.open(source, "source");
    let to: OpenedLocation;
    try {
      to = await pool.open(destination, "destination");
    } catch (err) {
      await from.store.abort();
      throw err;
    }
    try {
      const report = await mergeInStores(from, to, options);
      await to.store.close();
      await from.store.close();
      return { ...report, source, destination };
    } catch (err) {
      await Promise.allSettled([to.store.abort(), from.store.abort()]);
      throw err;
    }
  });
}

/** One side of a merge: a store, what names the image there, and how messages and the report name it. */
export interface MergeSide {
  store: Store;
  /** The source's tag or digest; the destination's tag. */
  name: string | undefined;
  /** The tag to move (destination). */
  tag?: string | undefined;
  display: string;
}

/** mergeIndex on two stores already open (any Store: registries, OCI layouts, in-memory). */
export async function mergeInStores(from: MergeSide, to: MergeSide, options: MergeIndexOptions = {}): Promise<MergeIndexReport> {
  const source = from.display;
  const destination = to.display;
  requireCapability(to.store, "indexes", "index merge");
  const tag = to.tag;
  if (tag === undefined) throw new UsageError(`index merge: ${destination} names no tag; the merged index gets a new digest, so give the tag to move (e.g. host/repo:latest)`);
  const sourceIndex = await readIndex(from, options, `merge another source, or copy ${source} with \`quayside copy\``);
  let destinationIndex: IndexManifest | undefined;
  try {
    destinationIndex = await readIndex(to, options, `merge into another tag, or replace it with \`quayside copy ${source} ${destination}\``);
  } catch (err) {
    // Nothing there yet: the result is the source's list. A destination of another type is an error (pubtools' ManifestTypeError).
    if (err instanceof ManifestTypeError || !isNotFound(err)) throw err;
  }
  const merged = mergeIndexes(sourceIndex, destinationIndex, { match: options.match, where: `index merge ${source} ${destination}` });

  const report: MergeIndexReport = {
    source,
    destination,
    digest: merged.digest,
    mediaType: merged.mediaType,
    size: merged.bytes.length,
    sourceDigest: sourceIndex.digest,
    previousDigest: destinationIndex?.digest,
    fromSource: merged.fromSource.map(entry),
    fromDestination: merged.fromDestination.map(entry),
    replaced: merged.replaced.map(entry),
    copied: [],
    blobs: { copied: 0, skipped: 0, mounted: 0 },
    bytes: 0,
    unchanged: destinationIndex?.digest === merged.digest,
  };
  if (report.unchanged) return report;

  // Children first: the source's that the destination lacks, each copied whole (its blobs, and
  // its children if it is an index itself), untagged, its digest unchanged.
  for (const child of merged.fromSource) {
    if (await to.store.exists(child, { signal: options.signal })) continue;
    const copied = await copyImage(from.store, child.digest, to.store, undefined, { jobs: options.jobs, signal: options.signal, onEvent: options.onEvent });
    report.copied.push(entry(child));
    for (const outcome of ["copied", "skipped", "mounted"] as const) report.blobs[outcome] += copied.blobs[outcome];
    report.bytes += copied.bytes;
  }
  const descriptor: Descriptor = { mediaType: merged.mediaType, digest: merged.digest, size: merged.bytes.length };
  if (!(await to.store.exists(descriptor, { signal: options.signal }))) await to.store.push(descriptor, merged.bytes, { signal: options.signal });
  await to.store.tag(descriptor, tag, { signal: options.signal });
  return report;
}

/**
 * The index a location names; anything else is a ManifestTypeError (pubtools asks for a list
 * alone). Every type is accepted in the one request, so that a registry answers with what it
 * holds rather than a rewrite (distribution turns schema 2 into schema 1 for a client that does
 * not take schema 2), and the error names the real type.
 */
async function readIndex(side: MergeSide, options: MergeIndexOptions, nextStep: string): Promise<IndexManifest> {
  const descriptor = await side.store.resolve(imageName(side), { signal: options.signal });
  if (!isIndexMediaType(descriptor.mediaType)) throw new ManifestTypeError(side.display, INDEX_TYPES, [descriptor.mediaType], nextStep);
  const manifest = parseManifest(await fetchBytes(side.store, descriptor, { signal: options.signal }), descriptor.mediaType);
  if (!isIndex(manifest)) throw new ManifestError(`${side.display}@${descriptor.digest} is ${manifest.mediaType}, not a list or index`);
  return manifest;
}

function entry(d: Descriptor): MergeEntry {
  return { digest: d.digest, mediaType: d.mediaType, size: d.size, platform: d.platform ? formatPlatform(d.platform) : undefined };
}
