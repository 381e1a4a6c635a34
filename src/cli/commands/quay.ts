/**
 * Quay commands: quay repos/tags/discover/delete-tag/set-tag/delete-repo, and inspect and copy of
 * a quay:// URI (bulk inspect, mirror). Results on stdout, progress and notes on stderr.
 */
import * as quayside from "../../index.js";
import { QuaysideError, UsageError, type BulkInspectEntry, type MirrorEntry, type MirrorReport } from "../../index.js";
import type { CliContext } from "../context.js";
import { formatBytes, table } from "../output.js";
import { chooseProgressMode, createProgress, mirrorProgress } from "../progress.js";
import { renderSummary } from "./read.js";

export interface DiscoveryCommandOptions {
  jobs?: number;
  shard?: string;
}

function note(ctx: CliContext): (message: string) => void {
  return (message) => ctx.output.info(message);
}

export async function repos(ctx: CliContext, namespace: string): Promise<void> {
  const listing = quayside.listQuayRepositories(namespace, { ...(await ctx.operation()), onNote: note(ctx) });
  if (!ctx.output.json) {
    for await (const name of listing) ctx.output.line(name);
    return;
  }
  const repositories: string[] = [];
  for await (const name of listing) repositories.push(name);
  ctx.output.result({ namespace, repositories }, () => []);
}

export async function tags(ctx: CliContext, repository: string, options: { all?: boolean }): Promise<void> {
  const listing = quayside.listQuayTags(repository, { ...(await ctx.operation()), all: options.all });
  const found: quayside.QuayTag[] = [];
  for await (const tag of listing) {
    // Active tags stream one name per line; with --all the columns are aligned at the end.
    if (!ctx.output.json && !options.all) ctx.output.line(tag.name);
    else found.push(tag);
  }
  if (ctx.output.json) {
    ctx.output.result({ repository, tags: found }, () => []);
  } else if (options.all) {
    const time = (seconds: number | undefined): string => (seconds === undefined ? "-" : new Date(seconds * 1000).toISOString());
    for (const line of table(found.map((t) => [t.name, t.manifestDigest, time(t.startTs), time(t.endTs)]))) ctx.output.line(line);
  }
}

export async function discover(ctx: CliContext, uri: string, options: DiscoveryCommandOptions): Promise<void> {
  const result = await quayside.discoverQuay(uri, { ...(await ctx.operation()), discoverJobs: options.jobs, shard: options.shard, onNote: note(ctx) });
  ctx.output.result(result.images, (images) => images.map((i) => i.reference));
}

export async function deleteTag(ctx: CliContext, reference: string): Promise<void> {
  const result = await quayside.deleteQuayTag(reference, { ...(await ctx.operation()), onNote: note(ctx) });
  ctx.output.result(result, (r) => (r.outcome === "deleted" ? `deleted tag ${r.reference}` : []));
}

export async function setTag(ctx: CliContext, reference: string, digest: string): Promise<void> {
  const result = await quayside.setQuayTag(reference, digest, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `${r.reference} -> ${r.digest ?? digest}`);
}

export async function deleteRepo(ctx: CliContext, repository: string): Promise<void> {
  const result = await quayside.deleteQuayRepository(repository, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `deleted repository ${r.deleted}`);
}

/** `inspect quay://...`: a text section per image, or one JSON array; failures on stderr, exit 1. */
export async function bulkInspect(ctx: CliContext, uri: string, options: DiscoveryCommandOptions): Promise<void> {
  const { entries } = await quayside.inspectQuay(uri, {
    ...(await ctx.operation()),
    discoverJobs: options.jobs,
    shard: options.shard,
    platform: ctx.options.platform,
    onNote: note(ctx),
    onImage: (entry: BulkInspectEntry) => ctx.output.info(entry.error !== undefined ? `failed ${entry.image.reference}` : `inspected ${entry.image.reference}`),
  });
  const failed = entries.filter((e) => e.error !== undefined);
  if (ctx.output.json) {
    ctx.output.result(
      entries.map((e) => e.summary ?? { reference: e.image.reference, error: e.error }),
      () => [],
    );
  } else {
    const sections = entries.filter((e) => e.summary !== undefined).map((e) => renderSummary(e.summary as quayside.InspectSummary).join("\n"));
    if (sections.length > 0) ctx.output.line(sections.join("\n\n"));
  }
  for (const entry of failed) ctx.output.error(entry.error ?? "");
  if (failed.length > 0) throw new QuaysideError("PARTIAL_FAILURE", `${failed.length} of ${entries.length} images could not be inspected`);
}

export interface MirrorCommandOptions extends DiscoveryCommandOptions {
  dryRun?: boolean;
  imageJobs?: number;
  blobJobs?: number;
  progress?: string;
}

/** `copy quay://... DEST`: plan, then copy what the destination lacks; a summary (or --json report); exit 1 if any image failed. */
export async function mirror(ctx: CliContext, uri: string, destination: string, options: MirrorCommandOptions): Promise<void> {
  // A mirror keeps digests: a subset of platforms would be another image than the one Quay reported.
  if (ctx.options.platform !== undefined) throw new UsageError("--platform does not apply to a quay:// mirror (every image is copied whole, digests unchanged)");
  // Progress as a single copy shows it (--progress tty|plain|json|none), per image and overall; stdout keeps the result.
  const mode = options.dryRun ? "none" : chooseProgressMode(options.progress, ctx.io.stderr, ctx.output.quiet);
  const progress = createProgress(mode, ctx.io.stderr);
  const images = mirrorProgress(progress);
  let report: MirrorReport;
  try {
    report = await quayside.mirror(uri, destination, {
      ...(await ctx.operation()),
      discoverJobs: options.jobs,
      shard: options.shard,
      dryRun: options.dryRun,
      imageJobs: options.imageJobs,
      jobs: options.blobJobs,
      onNote: note(ctx),
      // No listener, no per-chunk counting on the hot path.
      onEvent: mode !== "none" ? (reference, event) => images.event(reference, event) : undefined,
      onImage: (entry: MirrorEntry) => {
        if (entry.status === "copied" || entry.status === "failed") images.imageDone(entry.reference, entry.status);
      },
    });
    images.finish();
  } finally {
    progress.stop();
  }
  const { summary } = report;
  if (ctx.output.json) {
    ctx.output.result(report, () => []);
  } else if (report.dryRun) {
    ctx.output.result(report, (r) => [
      ...table(r.images.map((e) => [e.status === "copy" ? "to copy" : "up to date", e.reference, e.destination])),
      `plan: ${summary.toCopy} to copy, ${summary.upToDate} up to date (dry run: nothing written)`,
    ]);
  } else {
    ctx.output.result(report, () => [
      `${summary.copied} copied, ${summary.upToDate} up to date, ${summary.failed} failed; blobs: ${summary.blobs.copied} copied, ${summary.blobs.skipped} already there, ${summary.blobs.mounted} mounted; ${formatBytes(summary.bytes)} in ${(summary.durationMs / 1000).toFixed(2)} s`,
    ]);
  }
  const failed = report.images.filter((e) => e.status === "failed");
  for (const entry of failed) ctx.output.error(entry.error ?? `${entry.reference}: failed`);
  if (failed.length > 0) throw new QuaysideError("PARTIAL_FAILURE", `${failed.length} of ${report.images.length} images failed; the others were mirrored (run it again to retry)`);
}
