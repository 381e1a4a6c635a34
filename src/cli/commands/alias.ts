/**
 * python-dxf's aliases on the command line: alias set/get/digest/delete/list, and `blob get REPO
 * NAME...` (digests and @ALIAS names, their blobs concatenated, as `dxf pull-blob` streams them).
 * A multi-arch alias prints one JSON object keyed by platform, as dxf does.
 */
import * as quayside from "../../index.js";
import type { BlobInfo, PlatformMap } from "../../index.js";
import { sep } from "node:path";
import type { CliContext } from "../context.js";
import { withDownloadBar } from "../progress.js";

/**
 * `alias set REPO ALIAS DIGEST...`: the manifest's exact bytes on stdout, no newline added (as `dxf
 * set-alias` writes them: their sha256 is the manifest digest), and that digest on stderr.
 */
export async function set(ctx: CliContext, repository: string, alias: string, digests: readonly string[]): Promise<void> {
  // As dxf's set-alias: an argument with a path separator is a file, named by its digest (push it first).
  const named = await Promise.all(digests.map((d) => (d.includes(sep) ? quayside.hashFile(d) : d)));
  const result = await quayside.setAlias(repository, alias, named, { ...(await ctx.operation()) });
  ctx.output.info(`${result.repository}:${result.alias} -> ${result.digest} (${result.blobs.length} blob${result.blobs.length === 1 ? "" : "s"})`);
  if (ctx.output.json) ctx.output.result(result, () => []);
  else ctx.output.raw(new TextEncoder().encode(result.manifest));
}

/**
 * `alias get REPO ALIAS...`: each alias's digests, one per line, one alias after another (--sizes:
 * "DIGEST SIZE"); a multi-arch alias as one JSON object keyed by platform. JSON: one object per alias.
 */
export async function get(ctx: CliContext, repository: string, aliases: readonly string[], options: { sizes?: boolean }): Promise<void> {
  const operation = { ...(await ctx.operation()), sizes: options.sizes === true, platform: ctx.options.platform };
  const found: { repository: string; alias: string; blobs?: (string | BlobInfo)[]; platforms?: PlatformMap<unknown> }[] = [];
  for (const alias of aliases) {
    const got = await quayside.getAlias(repository, alias, operation);
    found.push(Array.isArray(got) ? { repository, alias, blobs: got } : { repository, alias, platforms: got });
  }
  const lines = found.flatMap((f) => (f.blobs !== undefined ? f.blobs.map(blobLine) : [sortedJson(f.platforms ?? {})]));
  ctx.output.result(found.length === 1 ? found[0] : found, () => lines);
}

/** `alias digest REPO ALIAS`: the config digest (image ID); per platform for a multi-arch alias. */
export async function digest(ctx: CliContext, repository: string, alias: string): Promise<void> {
  const found = await quayside.getAliasDigest(repository, alias, { ...(await ctx.operation()), platform: ctx.options.platform });
  const json = typeof found === "string" ? { repository, alias, digest: found } : { repository, alias, platforms: found };
  ctx.output.result(json, () => (typeof found === "string" ? found : sortedJson(found)));
}

/** `alias delete REPO ALIAS...`: the digests each pointed to on stdout; that every tag on the manifest went too, on stderr. */
export async function remove(ctx: CliContext, repository: string, aliases: readonly string[]): Promise<void> {
  const operation = { ...(await ctx.operation()) };
  const results: Awaited<ReturnType<typeof quayside.deleteAlias>>[] = [];
  for (const alias of aliases) {
    const result = await quayside.deleteAlias(repository, alias, operation);
    if (results.length === 0) ctx.output.info(`note: ${result.note}`);
    results.push(result);
  }
  const lines = results.flatMap((r) => (Array.isArray(r.digests) ? r.digests : [sortedJson(r.digests)]));
  ctx.output.result(results.length === 1 ? results[0] : results, () => lines);
}

/** `alias list REPO`: one alias per line, every page. */
export async function list(ctx: CliContext, repository: string, options: { pageSize?: number }): Promise<void> {
  const listing = quayside.listAliases(repository, { ...(await ctx.operation()), pageSize: options.pageSize });
  if (!ctx.output.json) {
    for await (const name of listing) ctx.output.line(name);
    return;
  }
  const aliases: string[] = [];
  for await (const name of listing) aliases.push(name);
  ctx.output.result({ repository, aliases }, () => []);
}

/** `blob get REPO NAME...`: the blobs of digests and @ALIAS names, concatenated, to stdout or -o FILE (a bar on a terminal, as `blob get`). */
export async function blobGetNames(ctx: CliContext, repository: string, names: readonly string[], options: { output?: string; progress?: string }): Promise<void> {
  const result = await withDownloadBar(options.progress, ctx.io.stderr, ctx.output.quiet, names.join(" ").slice(0, 40), async (onProgress) =>
    quayside.pullBlobs(repository, names, options.output ?? ctx.io.stdout, { ...(await ctx.operation()), platform: ctx.options.platform, onProgress }),
  );
  if (result.path !== undefined && ctx.output.json) ctx.output.result(result, () => []);
}

/** `blob size REPO NAME...`: one line per name, as `dxf blob-size`: a size, an alias's total, or a JSON object of totals per platform. */
export async function blobSizeNames(ctx: CliContext, repository: string, names: readonly string[]): Promise<void> {
  const result = await quayside.blobSizes(repository, names, { ...(await ctx.operation()), platform: ctx.options.platform });
  ctx.output.result(result, (r) => r.sizes.map((s) => (typeof s.size === "number" ? String(s.size) : sortedJson(s.size))));
}

function blobLine(blob: string | BlobInfo): string {
  return typeof blob === "string" ? blob : `${blob.digest} ${blob.size}`;
}

/** One line of JSON with the platforms in name order, as dxf prints them (json.dumps(..., sort_keys=True)). */
function sortedJson(map: PlatformMap<unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(map).sort().map((key) => [key, map[key]])));
}
