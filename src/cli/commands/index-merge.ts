/** `index merge SRC DST`: pubtools-quay's manifest-list merge, through mergeIndex. */
import * as quayside from "../../index.js";
import type { MergeEntry, MergeIndexReport, PlatformMatch } from "../../index.js";
import type { CliContext } from "../context.js";
import { formatBytes } from "../output.js";

export interface MergeCommandOptions {
  match?: PlatformMatch;
  jobs?: number;
}

export async function merge(ctx: CliContext, source: string, destination: string, options: MergeCommandOptions): Promise<void> {
  const report = await quayside.mergeIndex(source, destination, { ...(await ctx.operation()), match: options.match, jobs: options.jobs });
  ctx.output.result(report, render);
}

function render(r: MergeIndexReport): string[] {
  const line = (e: MergeEntry): string => `    ${(e.platform ?? "(no platform)").padEnd(16)} ${e.digest}`;
  const previous = r.previousDigest === undefined ? "nothing was there: the source's list, unchanged" : `was ${r.previousDigest}`;
  return [
    `${r.destination} -> ${r.digest} (${r.unchanged ? "unchanged" : previous})`,
    `  from ${r.source}:`,
    ...r.fromSource.map(line),
    ...(r.fromDestination.length > 0 ? [`  kept from ${r.destination}:`, ...r.fromDestination.map(line)] : []),
    ...(r.replaced.length > 0 ? [`  replaced (the source has the platform):`, ...r.replaced.map(line)] : []),
    ...(r.copied.length > 0
      ? [`  copied to the destination first: ${r.copied.length} manifest(s); blobs: ${r.blobs.copied} copied, ${r.blobs.skipped} already there, ${r.blobs.mounted} mounted (${formatBytes(r.bytes)})`]
      : []),
  ];
}
