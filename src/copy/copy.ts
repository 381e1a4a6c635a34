/**
 * The one copy engine: any Store to any Store. It walks the graph (index -> manifests ->
 * config and layers), copies blobs in parallel (skipping what the destination has, mounting
 * across repositories where it can, streaming the rest), then manifests children-first,
 * and only then names the root: nothing is tagged before everything it references is there.
 */
import { setMaxListeners } from "node:events";
import type { Readable } from "node:stream";
import { DigestMismatchError, QuaysideError, SizeMismatchError } from "../errors.js";
import { isIndexMediaType, type Descriptor, type Platform } from "../media/types.js";
import { canMount, discardContent, requireCapability, type Store, type StoreOptions } from "../store/store.js";
import { forEachLimit } from "../util/limit.js";
import { planGraph } from "./graph.js";

export type BlobOutcome = "copied" | "skipped" | "mounted";

export type CopyEvent =
  /** Before any byte moves: every blob the copy will consider, and how many manifests. */
  | { type: "plan"; blobs: readonly Descriptor[]; manifests: number }
  | { type: "blob-start"; descriptor: Descriptor }
  | { type: "blob-progress"; descriptor: Descriptor; bytes: number }
  | { type: "blob-done"; descriptor: Descriptor; outcome: BlobOutcome }
  | { type: "manifest-done"; descriptor: Descriptor; outcome: "copied" | "skipped" };

export interface CopyOptions extends StoreOptions {
  /**
   * From an index, copy only these platforms. One platform: the destination gets that image
   * manifest alone. Several: a new index holding just those entries (so its digest differs
   * from the source's). Default: the whole graph, every digest unchanged.
   */
  platforms?: readonly Platform[] | undefined;
  /**
   * Also copy the referrers (signatures, SBOMs, attestations: manifests whose `subject` is one of
   * the graph's) and their referrers, each with its blobs, untagged. Between registries and OCI
   * layouts (stores with referrers()).
   */
  referrers?: boolean | undefined;
  /** Blobs copied at once. Default 4. */
  jobs?: number | undefined;
  onEvent?: ((event: CopyEvent) => void) | undefined;
  /**
   * Another store of the destination's registry known to hold this blob (a mirror's earlier
   * images): the blob is mounted from there instead of read from the source again.
   */
  mountFrom?: ((blob: Descriptor) => Store | undefined) | undefined;
}

export interface CopyResult {
  /** What the source reference named. */
  source: Descriptor;
  /** What was written and tagged at the destination (differs from source when platforms were picked). */
  destination: Descriptor;
  tag: string | undefined;
  /** Platforms of the image manifests copied (empty when they carry none). */
  platforms: string[];
  /** True when a subset of an index was written as a new index. */
  indexRewritten: boolean;
  blobs: Record<BlobOutcome, number>;
  manifests: { copied: number; skipped: number };
  /** Referrers found at the source and written (or found) at the destination: counted in manifests too. */
  referrers: number;
  /** Bytes streamed from source to destination (mounted and skipped blobs move none). */
  bytes: number;
  durationMs: number;
}

const DEFAULT_JOBS = 4;

export async function copyImage(source: Store, sourceReference: string, destination: Store, tag: string | undefined, given: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  const options = { ...given, signal: sharedSignal(given.signal) };
  if (options.referrers) for (const store of [source, destination]) requireCapability(store, "referrers", "--referrers");
  const sourceRoot = await source.resolve(sourceReference, options);
  const plan = await planGraph(source, sourceRoot, options);
  if (isIndexMediaType(plan.root.mediaType)) requireCapability(destination, "indexes");
  const result: CopyResult = {
    source: sourceRoot,
    destination: plan.root,
    tag,
    platforms: plan.manifests.flatMap((m) => (m.platform ? [m.platform] : [])),
    indexRewritten: plan.indexRewritten,
    blobs: { copied: 0, skipped: 0, mounted: 0 },
    manifests: { copied: 0, skipped: 0 },
    referrers: plan.referrers.length,
    bytes: 0,
    durationMs: 0,
  };
  const emit = options.onEvent ?? (() => undefined);
  emit({ type: "plan", blobs: plan.blobs, manifests: plan.manifests.length });

  // Largest first: the biggest blob is the critical path, so it should never wait for a free slot.
  const bySize = [...plan.blobs].sort((a, b) => b.size - a.size);
  const failures = new SourceFailures(source.location);
  try {
    await forEachLimit(bySize, options.jobs ?? DEFAULT_JOBS, async (blob) => {
      emit({ type: "blob-start", descriptor: blob });
      const onProgress = given.onEvent ? (bytes: number) => emit({ type: "blob-progress", descriptor: blob, bytes }) : undefined;
      const outcome = await copyBlob(source, destination, blob, options, onProgress, failures);
      result.blobs[outcome]++;
      if (outcome === "copied") result.bytes += blob.size;
      emit({ type: "blob-done", descriptor: blob, outcome });
    });
  } catch (err) {
    throw failures.blame(err);
  }

  for (const node of plan.manifests) {
    const present = await destination.exists(node.descriptor, options);
    if (!present) await destination.push(node.descriptor, node.bytes, options);
    result.manifests[present ? "skipped" : "copied"]++;
    emit({ type: "manifest-done", descriptor: node.descriptor, outcome: present ? "skipped" : "copied" });
  }
  if (tag !== undefined) await destination.tag(plan.root, tag, options);
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Every request of a copy listens on the caller's signal; many in flight exceed Node's default
 * of 10 listeners and print a warning. A signal of our own that follows the caller's has no cap.
 */
function sharedSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const linked = AbortSignal.any([signal]);
  setMaxListeners(0, linked);
  return linked;
}

async function copyBlob(
  source: Store,
  destination: Store,
  blob: Descriptor,
  options: CopyOptions,
  onProgress: ((bytes: number) => void) | undefined,
  failures: SourceFailures,
): Promise<BlobOutcome> {
  if (await destination.exists(blob, options)) return "skipped";
  if (canMount(destination, source) && (await destination.mount?.(blob, source, options))) return "mounted";
  const sibling = options.mountFrom?.(blob);
  // Only a shortcut: a mount the registry refuses (or fails) falls back to reading the source.
  const mountedFromSibling = async (from: Store): Promise<boolean> =>
    (await destination.mount?.(blob, from, options).catch((err: unknown) => {
      if (options.signal?.aborted) throw err;
      return false;
    })) === true;
  if (sibling !== undefined && canMount(destination, sibling) && (await mountedFromSibling(sibling))) return "mounted";
  // Not awaited: the source opens its stream while the destination opens its upload. The stream
  // is watched from the start: a small blob can fail verification before the destination reads it.
  const content = source.fetch(blob, options).then(
    (stream) => failures.watch(stream, blob),
    (err: unknown) => {
      failures.note(err, blob);
      throw err;
    },
  );
  content.catch(() => undefined); // push() settles it; a rejection meanwhile is not an unhandled one
  try {
    // reopen: a destination that fails an upload (503, a drop) may start over with the blob fetched again.
    await destination.push(blob, content, { ...options, ...(onProgress ? { onProgress } : {}), reopen: () => source.fetch(blob, options) });
  } catch (err) {
    discardContent(content);
    throw err;
  }
  return "copied";
}

/**
 * Bad bytes from the source (wrong size or digest) surface wherever the destination notices:
 * a PUT that failed, an archive refusing further entries, another blob's task. The first failure
 * is traced back through its causes to the source's own error, restated to name the blob and
 * where it came from.
 */
class SourceFailures {
  readonly #restated = new Map<unknown, QuaysideError>();

  constructor(private readonly location: string) {}

  watch(stream: Readable, blob: Descriptor): Readable {
    // A listener from the start: an early error is recorded instead of thrown as uncaught.
    stream.on("error", (err) => this.note(err, blob));
    return stream;
  }

  note(err: unknown, blob: Descriptor): void {
    if (this.#restated.has(err)) return;
    const what = `blob ${blob.digest} from ${this.location}`;
    if (err instanceof DigestMismatchError) this.#restated.set(err, new DigestMismatchError(err.expected, err.actual, what));
    else if (err instanceof SizeMismatchError) this.#restated.set(err, new SizeMismatchError(err.expected, err.actual, what));
  }

  blame(err: unknown): unknown {
    let current = err;
    for (let depth = 0; depth < 5 && current instanceof Error; depth++, current = current.cause) {
      const restated = this.#restated.get(current);
      if (restated !== undefined) return restated;
    }
    return err;
  }
}
