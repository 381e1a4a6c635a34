/** Write commands: copy, tag, delete, untag, check, blob put/mount/delete, login, logout. */
import * as quayside from "../../index.js";
import { NotFoundError, parsePlatformList, UsageError, type CopyReport } from "../../index.js";
import type { CliContext } from "../context.js";
import { formatBytes } from "../output.js";
import { chooseProgressMode, copyProgress, createProgress } from "../progress.js";

export interface CopyCommandOptions {
  allPlatforms?: boolean;
  referrers?: boolean;
  srcAuthFile?: string;
  destAuthFile?: string;
  jobs?: number;
  progress?: string;
}

export async function copy(ctx: CliContext, source: string, destination: string, options: CopyCommandOptions): Promise<void> {
  for (const file of [options.srcAuthFile, options.destAuthFile]) if (file !== undefined && ctx.options.authfile !== undefined) throw new UsageError("--authfile and --src-authfile/--dest-authfile exclude each other");
  const mode = chooseProgressMode(options.progress, ctx.io.stderr, ctx.output.quiet);
  const progress = createProgress(mode, ctx.io.stderr);
  let report: CopyReport;
  try {
    report = await quayside.copy(source, destination, {
      ...(await ctx.operation()),
      platforms: ctx.options.platform === undefined ? undefined : parsePlatformList(ctx.options.platform),
      allPlatforms: options.allPlatforms,
      referrers: options.referrers,
      jobs: options.jobs,
      sourceAuthFile: options.srcAuthFile,
      destinationAuthFile: options.destAuthFile,
      // No listener, no per-chunk counting on the hot path.
      onEvent: mode !== "none" ? copyProgress(progress) : undefined,
      onNote: (message) => ctx.output.info(message),
    });
  } finally {
    progress.stop();
  }
  ctx.output.result(report, (r) => [
    `${r.from} -> ${r.to} (${r.destination.digest})`,
    `  blobs: ${r.blobs.copied} copied, ${r.blobs.skipped} already there, ${r.blobs.mounted} mounted; manifests: ${r.manifests.copied} written, ${r.manifests.skipped} already there${r.referrers > 0 ? ` (${r.referrers} of them referrers)` : ""}`,
    `  ${formatBytes(r.bytes)} in ${(r.durationMs / 1000).toFixed(2)} s${r.platforms.length > 0 ? `; platforms: ${r.platforms.join(", ")}` : ""}`,
    ...(r.indexRewritten ? [`  note: a new index of the chosen platforms was written; its digest differs from the source's ${r.source.digest}`] : []),
  ]);
}

/** `tag REF NEWTAG`: the same manifest bytes under another tag; NEWTAG may name another repository (blobs follow, mounted where possible). */
export async function tag(ctx: CliContext, location: string, newTag: string): Promise<void> {
  const result = await quayside.tag(location, newTag, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `${r.tagged} -> ${r.digest}`);
}

export async function deleteImage(ctx: CliContext, reference: string, options: { layers?: boolean } = {}): Promise<void> {
  const { deleted, reference: ref, byTag, manifests, blobs } = await quayside.deleteImage(reference, { ...(await ctx.operation()), layers: options.layers });
  const content = options.layers ? { manifests: manifests ?? [], blobs: blobs ?? [] } : {};
  ctx.output.result({ deleted, reference: ref, ...content }, (r) => [
    ...(byTag
      ? [`deleted ${r.deleted}, which ${r.reference} pointed at`, "note: every other tag on that manifest is gone too; use `quayside untag` to remove a single tag"]
      : [`deleted ${r.deleted} (and every tag that pointed at it)`]),
    ...(r.manifests !== undefined ? [`  and ${r.manifests.length} image manifest(s) of the index, ${r.blobs?.length ?? 0} blob(s)`] : []),
  ]);
}

export async function untag(ctx: CliContext, reference: string): Promise<void> {
  const result = await quayside.untag(reference, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `removed tag ${r.untagged} (manifest ${r.digest} and its other tags kept)`);
}

export async function check(ctx: CliContext, location: string): Promise<void> {
  const result = await quayside.check(location, { ...(await ctx.operation()), platforms: ctx.options.platform === undefined ? undefined : parsePlatformList(ctx.options.platform) });
  ctx.output.result(result, (r) =>
    r.complete
      ? `${r.reference}: complete (${r.manifests} manifests, ${r.blobs} blobs present)`
      : [`${r.reference}: ${r.missing.length} of ${r.blobs} blobs missing`, ...r.missing.map((m) => `  missing ${m.digest} (${formatBytes(m.size)})`)],
  );
  // Exit 3: something the image needs is not there.
  if (!result.complete) throw new NotFoundError(`${location}: ${result.missing.length} blob(s) missing`);
}

export async function blobPut(ctx: CliContext, repository: string, file: string, options: { progress?: string }): Promise<void> {
  const progress = createProgress(chooseProgressMode(options.progress ?? (ctx.io.stderr.isTTY ? "tty" : "none"), ctx.io.stderr, ctx.output.quiet), ctx.io.stderr);
  let started = false;
  try {
    const result = await quayside.pushBlob(repository, file, {
      ...(await ctx.operation()),
      onProgress: (bytes, total) => {
        if (!started) progress.start("blob", file, total);
        started = true;
        progress.update("blob", bytes);
      },
    });
    if (started) progress.done("blob", result.outcome);
    ctx.output.result(result, (r) => r.digest);
  } finally {
    progress.stop();
  }
}

export async function blobMount(ctx: CliContext, repository: string, from: string, digest: string): Promise<void> {
  const result = await quayside.mountBlob(repository, from, digest, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `mounted ${r.digest} from ${r.from}`);
}

export async function blobDelete(ctx: CliContext, reference: string): Promise<void> {
  const result = await quayside.deleteBlob(reference, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `deleted blob ${r.deleted}`);
}

export async function login(ctx: CliContext, registry: string): Promise<void> {
  const credential = await ctx.credential({ ask: true });
  if (credential?.kind !== "basic") throw new UsageError("login needs -u/--username and --password-stdin (or a terminal to ask on)");
  const pool = await ctx.pool();
  const result = await quayside.login(registry, credential.username, credential.password, { ...pool.options, authFile: ctx.options.authfile });
  ctx.output.result(result, (r) => `Login succeeded: ${r.username} at ${r.registry} (saved in ${r.config})`);
}

export async function logout(ctx: CliContext, registry: string): Promise<void> {
  const result = await quayside.logout(registry, { authFile: ctx.options.authfile, env: ctx.io.env });
  ctx.output.result(result, (r) => (r.removed ? `Removed credentials for ${r.registry} from ${r.config}` : `No credentials for ${r.registry} in ${r.config}`));
}
