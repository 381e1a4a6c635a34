/**
 * Quay operations: the REST calls of the `quay` commands, quay:// discovery, and inspect and
 * mirror of everything a quay:// URI matches. A mirror plans first: each match's digest, as Quay
 * reported it, against one HEAD at the destination; an image up to date costs the source
 * nothing, so a re-run of an unchanged mirror makes no /v2/ request to Quay at all.
 */
import { copyImage, type BlobOutcome, type CopyEvent } from "../copy/copy.js";
import { isNotFound, QuaysideError, RegistryError, UsageError } from "../errors.js";
import type { InspectSummary } from "../image/inspect.js";
import type { Descriptor } from "../media/types.js";
import { parseReference } from "../ref/reference.js";
import { type QuayClient, type QuayTag } from "../quay/client.js";
import { discover as discoverImages, parseShard, type DiscoveredImage, type DiscoveryResult, type Shard } from "../quay/discover.js";
import { isQuayUri, parseQuayNamespace, parseQuayRepository, parseQuayUri } from "../quay/uri.js";
import { OciLayoutStore } from "../store/oci-layout.js";
import type { Store } from "../store/store.js";
import { forEachLimit } from "../util/limit.js";
import { ClientPool, iterateWithPool, withPool, type OperationOptions } from "./pool.js";
import { inspect as inspectOne, type PlatformOption } from "./read.js";

export const DEFAULT_IMAGE_JOBS = 4;

export interface QuayOperationOptions extends OperationOptions {
  /** Tag queries at once during discovery (default 8). */
  discoverJobs?: number | undefined;
  /** Only this part of the matches ("I/N" or a Shard): a split by a hash of ORG/REPO:TAG. */
  shard?: Shard | string | undefined;
  /** Things worth telling a person (an empty listing without a token, a tag already gone). */
  onNote?: ((message: string) => void) | undefined;
}

export interface QuayDiscovery extends DiscoveryResult {
  uri: string;
}

/** Every image a quay:// URI matches, sorted, with the digest and times Quay reported. */
export function discover(uri: string, options: QuayOperationOptions = {}): Promise<QuayDiscovery> {
  const parsed = parseQuayUri(uri);
  const shard = shardOf(options);
  return withPool(options, async (pool) => ({
    uri,
    ...(await discoverImages(pool.quay(parsed.host), parsed, { jobs: options.discoverJobs, shard, signal: options.signal, onNote: options.onNote })),
  }));
}

/** "ORG/REPO" for every repository of "[HOST/]ORG", every page (public ones, and with a token those it may read). */
export async function* listQuayRepositories(namespace: string, options: QuayOperationOptions = {}): AsyncGenerator<string> {
  const { host, namespace: ns } = parseQuayNamespace(namespace);
  yield* iterateWithPool(options, async function* (pool) {
    const client = pool.quay(host);
    let listed = 0;
    for await (const repo of client.repositories(ns, { signal: options.signal })) {
      listed++;
      yield `${repo.namespace}/${repo.name}`;
    }
    if (listed === 0 && !client.authenticated) options.onNote?.(emptyNote(client, ns));
  });
}

export interface QuayTagListOptions extends QuayOperationOptions {
  /** Expired tags too (default: active ones only). */
  all?: boolean | undefined;
}

/** The tags of "[HOST/]ORG/REPO", newest first, every page. */
export async function* listQuayTags(repository: string, options: QuayTagListOptions = {}): AsyncGenerator<QuayTag> {
  const name = parseQuayRepository(repository, "forbidden");
  yield* iterateWithPool(options, (pool) => pool.quay(name.host).tags(name.namespace, name.repository, { all: options.all, signal: options.signal }));
}

export interface QuayTagChange {
  /** "HOST/ORG/REPO:TAG". */
  reference: string;
  /** deleteQuayTag: "deleted", or "absent" when it was already gone (not an error). */
  outcome: "deleted" | "absent" | "set";
  digest?: string;
}

/** Delete (end) the tag "[HOST/]ORG/REPO:TAG"; one already gone is a note, not an error. */
export function deleteQuayTag(reference: string, options: QuayOperationOptions = {}): Promise<QuayTagChange> {
  const name = parseQuayRepository(reference, "required");
  const tag = name.tag as string;
  return withPool(options, async (pool) => {
    const client = pool.quay(name.host);
    const outcome = await client.deleteTag(name.namespace, name.repository, tag, { signal: options.signal });
    const full = `${client.host}/${name.namespace}/${name.repository}:${tag}`;
    if (outcome === "absent") options.onNote?.(`note: ${full} was already gone (no such active tag)`);
    return { reference: full, outcome };
  });
}

/** Create or move "[HOST/]ORG/REPO:TAG" to a manifest the repository holds. */
export function setQuayTag(reference: string, digest: string, options: QuayOperationOptions = {}): Promise<QuayTagChange> {
  const name = parseQuayRepository(reference, "required");
  const tag = name.tag as string;
  return withPool(options, async (pool) => {
    const client = pool.quay(name.host);
    await client.setTag(name.namespace, name.repository, tag, digest, { signal: options.signal });
    return { reference: `${client.host}/${name.namespace}/${name.repository}:${tag}`, outcome: "set", digest };
  });
}

/** Delete the repository "[HOST/]ORG/REPO" and everything in it. */
export function deleteQuayRepository(repository: string, options: QuayOperationOptions = {}): Promise<{ deleted: string }> {
  const name = parseQuayRepository(repository, "forbidden");
  return withPool(options, async (pool) => {
    const client = pool.quay(name.host);
    await client.deleteRepository(name.namespace, name.repository, { signal: options.signal });
    return { deleted: `${client.host}/${name.namespace}/${name.repository}` };
  });
}

// ---- bulk inspect ----------------------------------------------------------------------------

export interface BulkInspectEntry {
  image: DiscoveredImage;
  summary?: InspectSummary;
  /** Why this image could not be inspected (the others were). */
  error?: string;
}

export interface BulkInspectOptions extends QuayOperationOptions, PlatformOption {
  /** Images inspected at once (default 4). */
  imageJobs?: number | undefined;
  /** Called as each image is done (progress). */
  onImage?: ((entry: BulkInspectEntry) => void) | undefined;
}

/** Inspect every image a quay:// URI matches; one failing image does not stop the others. */
export function inspectQuay(uri: string, options: BulkInspectOptions = {}): Promise<{ uri: string; entries: BulkInspectEntry[] }> {
  return withPool(options, async (pool) => {
    const { images } = await discover(uri, { ...options, pool });
    const entries: BulkInspectEntry[] = images.map((image) => ({ image }));
    await forEachLimit(entries, options.imageJobs ?? DEFAULT_IMAGE_JOBS, async (entry) => {
      try {
        entry.summary = await inspectOne(entry.image.reference, { pool, signal: options.signal, platform: options.platform });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        entry.error = describeImageError(entry.image, err);
      }
      options.onImage?.(entry);
    });
    return { uri, entries };
  });
}

// ---- mirror ----------------------------------------------------------------------------------

export type MirrorStatus = "copy" | "up-to-date" | "copied" | "failed";

export interface MirrorEntry {
  /** The source, "HOST/ORG/REPO:TAG". */
  reference: string;
  /** Where it goes: a registry reference, or "oci:DIR:ORG/REPO:TAG". */
  destination: string;
  /** In a plan: "copy" or "up-to-date"; after it ran: "copied", "up-to-date" or "failed". */
  status: MirrorStatus;
  /** The digest Quay reported (what is, or will be, at the destination). */
  digest: string;
  /** The digest at the destination before the run, if there was one. */
  destinationDigest?: string;
  /** Bytes streamed for this image. */
  bytes: number;
  blobs?: { copied: number; skipped: number; mounted: number };
  error?: string;
}

export interface MirrorReport {
  uri: string;
  destination: string;
  dryRun: boolean;
  images: MirrorEntry[];
  summary: {
    copied: number;
    upToDate: number;
    failed: number;
    /** In a dry run: images that would be copied. */
    toCopy: number;
    blobs: { copied: number; skipped: number; mounted: number };
    bytes: number;
    durationMs: number;
  };
}

export interface MirrorOptions extends QuayOperationOptions {
  /** Print the plan and write nothing. */
  dryRun?: boolean | undefined;
  /** Images copied at once (default 4). */
  imageJobs?: number | undefined;
  /** Blobs copied at once within an image (default 4). */
  jobs?: number | undefined;
  /** Copy engine events of each image, with its source reference. */
  onEvent?: ((reference: string, event: CopyEvent) => void) | undefined;
  /** Called as each image is planned, then done. */
  onImage?: ((entry: MirrorEntry) => void) | undefined;
}

/**
 * Where each image goes. DEST is a registry prefix ("host/prefix" -> host/prefix/REPO:TAG), a
 * template ("host/mirror/{org}-{repo}:{tag}"; without {tag}, ":{tag}" is added), or an OCI layout
 * ("oci:DIR": one layout, each image named ORG/REPO:TAG).
 */
export type MirrorDestination = { kind: "registry"; name: (image: DiscoveredImage) => string } | { kind: "oci"; path: string };

export function parseMirrorDestination(destination: string): MirrorDestination {
  if (destination.startsWith("oci:")) {
    const path = destination.slice("oci:".length);
    if (path === "" || /:[^/]*$/.test(path)) throw new UsageError(`${destination}: a mirror into a layout takes oci:DIR (each image is named ORG/REPO:TAG in it)`);
    return { kind: "oci", path };
  }
  if (destination.startsWith("docker-archive:") || isQuayUri(destination)) throw new UsageError(`${destination}: a mirror goes to a registry prefix, a template or oci:DIR`);
  const bare = destination.replace(/^docker:\/\//, "");
  const template = bare.includes("{") ? (bare.includes("{tag}") ? bare : `${bare}:{tag}`) : `${bare.replace(/\/+$/, "")}/{repo}:{tag}`;
  const unknown = /\{(?!org\}|repo\}|tag\})[^}]*\}/.exec(template);
  if (unknown) throw new UsageError(`${destination}: unknown placeholder ${unknown[0]} (known: {org}, {repo}, {tag})`);
  const name = (image: DiscoveredImage): string => template.replaceAll("{org}", image.namespace).replaceAll("{repo}", image.repository).replaceAll("{tag}", image.tag);
  // Catch a bad destination before anything runs: the name of a sample image must parse.
  parseReference(name({ namespace: "org", repository: "repo", tag: "tag" } as DiscoveredImage));
  return { kind: "registry", name: (image) => parseReference(name(image)).toString() };
}

/** Plan, then (unless dryRun) copy every image a quay:// URI matches that the destination lacks. */
export function mirror(uri: string, destination: string, options: MirrorOptions = {}): Promise<MirrorReport> {
  const target = parseMirrorDestination(destination);
  const started = Date.now();
  return withPool(options, async (pool) => {
    const { images } = await discover(uri, { ...options, pool });
    const layout = target.kind === "oci" ? await openLayout(target.path, options.dryRun === true) : undefined;
    try {
      const entries = await plan(pool, images, target, layout, options);
      const imageOf = new Map(entries.map((entry, i) => [entry, images[i] as DiscoveredImage]));
      const summary = { copied: 0, upToDate: 0, failed: 0, toCopy: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, durationMs: 0 };
      const pending = entries.filter((e) => e.status === "copy");
      if (!options.dryRun) {
        const landed = new LandedBlobs();
        await forEachLimit(pending, options.imageJobs ?? DEFAULT_IMAGE_JOBS, async (entry) => {
          await apply(pool, entry, imageOf.get(entry) as DiscoveredImage, layout, landed, options);
          options.onImage?.(entry);
        });
      }
      for (const entry of entries) {
        if (entry.status === "copied") summary.copied++;
        else if (entry.status === "up-to-date") summary.upToDate++;
        else if (entry.status === "failed") summary.failed++;
        else summary.toCopy++;
        summary.bytes += entry.bytes;
        for (const kind of ["copied", "skipped", "mounted"] as const) summary.blobs[kind] += entry.blobs?.[kind] ?? 0;
      }
      await layout?.close();
      summary.durationMs = Date.now() - started;
      return { uri, destination, dryRun: options.dryRun === true, images: entries, summary };
    } catch (err) {
      await layout?.abort();
      throw err;
    }
  });
}

/** Each image's digest as Quay reported it against the destination's (one HEAD each, nothing asked of the source). */
async function plan(pool: ClientPool, images: readonly DiscoveredImage[], target: MirrorDestination, layout: OciLayoutStore | undefined, options: MirrorOptions): Promise<MirrorEntry[]> {
  const pairs = images.map((image) => ({ image, entry: {
    reference: image.reference,
    destination: target.kind === "oci" ? `oci:${target.path}:${layoutName(image)}` : target.name(image),
    status: "copy",
    digest: image.digest,
    bytes: 0,
  } as MirrorEntry }));
  await forEachLimit(pairs, options.discoverJobs ?? 8, async ({ image, entry }) => {
    let present: string | undefined;
    try {
      if (layout !== undefined) {
        present = (await layout.resolve(layoutName(image), { signal: options.signal })).digest;
      } else if (target.kind === "registry") {
        const ref = parseReference(entry.destination);
        present = (await pool.client(ref.registry).headManifest(ref.repository, ref.reference, { signal: options.signal })).digest;
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (present !== undefined) entry.destinationDigest = present;
    if (present === image.digest) entry.status = "up-to-date";
    options.onImage?.(entry);
  });
  return pairs.map((p) => p.entry);
}

/** Copy one image, pinned to the digest Quay reported; a failure is recorded, not thrown. */
async function apply(pool: ClientPool, entry: MirrorEntry, image: DiscoveredImage, layout: OciLayoutStore | undefined, landed: LandedBlobs, options: MirrorOptions): Promise<void> {
  const source = await pool.open(`${image.registry}/${image.namespace}/${image.repository}@${image.digest}`, "source");
  let destination: Store | undefined;
  try {
    let tag: string;
    if (layout !== undefined) {
      destination = layout;
      tag = layoutName(image);
    } else {
      const opened = await pool.open(entry.destination, "destination");
      destination = opened.store;
      tag = opened.tag as string;
    }
    const onEvent = options.onEvent;
    const into = destination;
    const result = await copyImage(source.store, image.digest, destination, tag, {
      jobs: options.jobs,
      signal: options.signal,
      mountFrom: (blob) => landed.offer(blob, into),
      onEvent: (event) => {
        if (event.type === "blob-done") landed.record(event.descriptor, event.outcome, into);
        onEvent?.(image.reference, event);
      },
    });
    entry.status = "copied";
    entry.bytes = result.bytes;
    entry.blobs = result.blobs;
    if (destination !== layout) await destination.close();
  } catch (err) {
    if (destination !== undefined && destination !== layout) await destination.abort().catch(() => undefined);
    if (options.signal?.aborted) throw err;
    entry.status = "failed";
    entry.error = describeImageError(image, err);
  } finally {
    await source.store.close();
  }
}

/**
 * The blobs a mirror has put into the repositories of a destination registry. Images of one
 * organization share most of their layers: a later image mounts them from an earlier image's
 * repository (one request at the destination) instead of reading them from Quay again. A
 * registry that refuses such a mount once is not offered another.
 */
class LandedBlobs {
  private readonly where = new Map<string, Store>();
  private readonly offered = new Set<string>();
  private mountsWork = true;

  offer(blob: Descriptor, destination: Store): Store | undefined {
    const store = this.mountsWork ? this.where.get(blob.digest) : undefined;
    if (store === undefined || store === destination) return undefined;
    this.offered.add(`${blob.digest}\0${destination.location}`);
    return store;
  }

  record(blob: Descriptor, outcome: BlobOutcome, destination: Store): void {
    // Offered, and yet copied: that registry does not mount across repositories.
    if (outcome === "copied" && this.offered.has(`${blob.digest}\0${destination.location}`)) this.mountsWork = false;
    if (destination.capabilities.mount !== undefined) this.where.set(blob.digest, destination);
  }
}

/** A layout holds every image of the mirror, named ORG/REPO:TAG. */
function layoutName(image: DiscoveredImage): string {
  return `${image.namespace}/${image.repository}:${image.tag}`;
}

/** A dry run writes nothing: a layout that is not there yet is an empty one. */
async function openLayout(path: string, dryRun: boolean): Promise<OciLayoutStore | undefined> {
  if (!dryRun) return OciLayoutStore.open(path, { create: true });
  try {
    return await OciLayoutStore.open(path, { create: false });
  } catch (err) {
    if (isNotFound(err) || (err instanceof QuaysideError && err.code === "INVALID_LAYOUT")) return undefined;
    throw err;
  }
}

/**
 * One line per failed image. Quay's /v2/ answers 401 both for a repository that does not exist
 * and for one the caller may not read: say so once, naming the image, not "HTTP 401" twice.
 */
export function describeImageError(image: DiscoveredImage, err: unknown): string {
  if (err instanceof RegistryError && err.status === 401 && new URL(err.request.url).host === image.registry) {
    return `${image.reference}: not found, or not authorized (Quay answers 401 for both): check the name, or log in to ${image.registry} with an account that may pull it`;
  }
  return `${image.reference}: ${err instanceof Error ? err.message : String(err)}`;
}

function shardOf(options: QuayOperationOptions): Shard | undefined {
  return typeof options.shard === "string" ? parseShard(options.shard) : options.shard;
}

function emptyNote(client: QuayClient, namespace: string): string {
  return `note: ${client.host}/${namespace} listed no repositories; a private organization needs a token (--quay-token or QUAY_TOKEN)`;
}

