/** Read commands: ping, catalog, tags, manifest, digest, config, inspect, blob get, blob size. */
import * as quayside from "../../index.js";
import type { InspectSummary } from "../../index.js";
import type { CliContext } from "../context.js";
import { formatBytes, table } from "../output.js";
import { withDownloadBar } from "../progress.js";

export async function ping(ctx: CliContext, registry: string): Promise<void> {
  const result = await quayside.ping(registry, { ...(await ctx.operation()) });
  ctx.output.result(result, (r) => `${r.registry}: ok (${r.url}, API ${r.apiVersion ?? "unknown"}, auth: ${r.authSchemes.length > 0 ? r.authSchemes.join(", ") : "none"})`);
}

export async function catalog(ctx: CliContext, registry: string, options: { pageSize?: number }): Promise<void> {
  const listing = quayside.listCatalog(registry, { ...(await ctx.operation()), pageSize: options.pageSize });
  await printListing(ctx, listing, (repositories) => ({ registry, repositories }));
}

export async function tags(ctx: CliContext, location: string, options: { pageSize?: number }): Promise<void> {
  const listing = quayside.listTags(location, { ...(await ctx.operation()), pageSize: options.pageSize });
  await printListing(ctx, listing, (found) => ({ repository: listing.repository, tags: found }));
}

/** A listing streams one line per entry; with --json it is gathered into one document. */
async function printListing<T>(ctx: CliContext, listing: AsyncIterable<string>, json: (entries: string[]) => T): Promise<void> {
  if (!ctx.output.json) {
    for await (const entry of listing) ctx.output.line(entry);
    return;
  }
  const entries: string[] = [];
  for await (const entry of listing) entries.push(entry);
  ctx.output.result(json(entries), () => []);
}

/** The manifest's exact bytes; with --platform on an index, the chosen child's. */
export async function manifest(ctx: CliContext, location: string): Promise<void> {
  const found = await quayside.getManifest(location, { ...(await ctx.operation()), platform: ctx.options.platform });
  if (ctx.output.json) {
    const { reference, digest, mediaType, size } = found;
    ctx.output.result({ reference, digest, mediaType, size, manifest: parseJson(found.bytes) }, () => []);
    return;
  }
  ctx.output.raw(found.bytes);
}

export async function digest(ctx: CliContext, location: string): Promise<void> {
  const found = await quayside.getDigest(location, { ...(await ctx.operation()), platform: ctx.options.platform });
  ctx.output.result(found, (d) => d.digest);
}

/** The config blob's exact bytes. An index needs a platform: --platform, else the host's. */
export async function config(ctx: CliContext, location: string): Promise<void> {
  const found = await quayside.getConfig(location, { ...(await ctx.operation()), platform: ctx.options.platform });
  if (ctx.output.json) {
    const { reference, digest, mediaType } = found;
    ctx.output.result({ reference, digest, mediaType, config: parseJson(found.bytes) }, () => []);
    return;
  }
  ctx.output.raw(found.bytes);
}

export async function inspect(ctx: CliContext, location: string): Promise<void> {
  ctx.output.result(await quayside.inspect(location, { ...(await ctx.operation()), platform: ctx.options.platform }), renderSummary);
}

export function renderSummary(s: InspectSummary): string[] {
  const head = [`Reference:   ${s.reference}`, `Digest:      ${s.digest}`, `Media type:  ${s.mediaType}`];
  switch (s.kind) {
    case "index":
      return [
        ...head,
        `Platforms:   ${s.platforms.join(", ") || "(none)"}`,
        "Manifests:",
        ...table(s.manifests.map((m) => ["  " + (m.platform ?? m.artifactType ?? "-"), m.digest, formatBytes(m.size)])),
      ];
    case "image":
      return [
        ...head,
        ...(s.indexDigest ? [`Index:       ${s.indexDigest}`] : []),
        `Platform:    ${s.platform}`,
        `Created:     ${s.created ?? "unknown"}`,
        `Config:      ${s.config.digest} (${formatBytes(s.config.size)})`,
        `Layers:      ${s.layers.length}`,
        ...table(s.layers.map((l) => ["  " + l.digest, formatBytes(l.size), l.mediaType])),
        `Total size:  ${formatBytes(s.totalSize)} (${s.totalSize} bytes)`,
        ...(s.history ? [`History:     ${s.history.length} steps`, ...table(s.history.map((h) => ["  " + (h.created ?? "-"), quayside.bounded(h.createdBy, 160)]))] : []),
      ];
    case "schema1":
      return [...head, `Platform:    ${s.platform}`, `Signature:   ${describeSchema1Signature(s.signature)}`, `Layers:      ${s.layers.length}`, ...s.layers.map((l) => `  ${l.digest}`)];
  }
}

/** One line: who signed a schema 1 manifest, that it is unsigned, or why its signature failed. */
function describeSchema1Signature(signature: Extract<InspectSummary, { kind: "schema1" }>["signature"]): string {
  switch (signature.status) {
    case "verified":
      return `verified: ${signature.signatures.map((s) => `${s.algorithm} by key ${s.keyId}`).join("; ")}`;
    case "unsigned":
      return "none (unsigned)";
    case "failed":
      return `FAILED (${signature.code}): ${signature.message}`;
  }
}

export async function blobGet(ctx: CliContext, reference: string, options: { output?: string; progress?: string }): Promise<void> {
  const label = reference.split("@").pop()?.slice(0, 19) ?? "blob";
  const result = await withDownloadBar(options.progress, ctx.io.stderr, ctx.output.quiet, label, async (onProgress) =>
    quayside.pullBlob(reference, options.output ?? ctx.io.stdout, { ...(await ctx.operation()), onProgress }),
  );
  if (result.path !== undefined && ctx.output.json) ctx.output.result(result, () => []);
}

export async function blobSize(ctx: CliContext, reference: string): Promise<void> {
  ctx.output.result(await quayside.blobSize(reference, { ...(await ctx.operation()) }), (d) => String(d.size));
}

function parseJson(bytes: Uint8Array): unknown {
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
}
