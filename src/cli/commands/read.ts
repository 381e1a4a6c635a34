/** Read commands: ping, catalog, tags, manifest, digest, config, inspect, blob get, blob size. */
import { inspect, type InspectSummary } from "../../image/inspect.js";
import { isIndex } from "../../media/manifest.js";
import { hostPlatform, selectPlatform } from "../../ref/platform.js";
import { parseReference, parseRepository, type Reference } from "../../ref/reference.js";
import { writeStreamAtomic } from "../../util/atomic-file.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { formatBytes, table } from "../output.js";
import { chooseProgressMode, createProgress } from "../progress.js";

export async function ping(ctx: CliContext, registryHost: string): Promise<void> {
  const registry = await ctx.registry(registryHost);
  const result = await registry.ping();
  ctx.output.result({ registry: registryHost, ...result }, (r) =>
    `${r.registry}: ok (${r.url}, API ${r.apiVersion ?? "unknown"}, auth: ${r.authSchemes.length > 0 ? r.authSchemes.join(", ") : "none"})`,
  );
}

export async function catalog(ctx: CliContext, registryHost: string, options: { pageSize?: number }): Promise<void> {
  const registry = await ctx.registry(registryHost);
  const listing = registry.catalog(pageOptions(options));
  if (ctx.output.json) {
    const repositories: string[] = [];
    for await (const name of listing) repositories.push(name);
    ctx.output.result({ registry: registryHost, repositories }, () => []);
    return;
  }
  for await (const name of listing) ctx.output.line(name);
}

export async function tags(ctx: CliContext, repoArg: string, options: { pageSize?: number }): Promise<void> {
  const { registry: host, repository } = parseRepository(repoArg);
  const registry = await ctx.registry(host);
  const listing = registry.repository(repository).tags(pageOptions(options));
  if (ctx.output.json) {
    const found: string[] = [];
    for await (const tag of listing) found.push(tag);
    ctx.output.result({ repository: `${host}/${repository}`, tags: found }, () => []);
    return;
  }
  for await (const tag of listing) ctx.output.line(tag);
}

/** The manifest's exact bytes; with --platform on an index, the chosen child's bytes. */
export async function manifest(ctx: CliContext, refArg: string): Promise<void> {
  const ref = parseReference(refArg);
  const repository = (await ctx.registry(ref.registry)).repository(ref.repository);
  let found = await repository.manifest(ref.reference);
  const platform = ctx.platform();
  if (platform && isIndex(found)) found = await repository.manifest(selectPlatform(found.manifests, platform).digest);
  if (ctx.output.json) {
    const parsed = JSON.parse(Buffer.from(found.bytes).toString("utf8")) as unknown;
    ctx.output.result({ reference: ref.toString(), digest: found.digest, mediaType: found.mediaType, size: found.bytes.length, manifest: parsed }, () => []);
    return;
  }
  ctx.output.raw(found.bytes);
}

export async function digest(ctx: CliContext, refArg: string): Promise<void> {
  const ref = parseReference(refArg);
  const repository = (await ctx.registry(ref.registry)).repository(ref.repository);
  const platform = ctx.platform();
  let descriptor = await repository.client.headManifest(ref.repository, ref.reference);
  if (platform) {
    const top = await repository.manifest(descriptor.digest);
    if (isIndex(top)) descriptor = selectPlatform(top.manifests, platform);
  }
  ctx.output.result({ reference: ref.toString(), digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size }, (d) => d.digest);
}

/** The config blob's exact bytes. An index needs a platform: --platform, else the host's. */
export async function config(ctx: CliContext, refArg: string): Promise<void> {
  const ref = parseReference(refArg);
  const repository = (await ctx.registry(ref.registry)).repository(ref.repository);
  const image = await repository.image(ref.reference, { platform: ctx.platform() ?? hostPlatform() });
  const bytes = await image.configBytes();
  if (ctx.output.json) {
    ctx.output.result(
      { reference: ref.toString(), digest: image.manifest.config.digest, mediaType: image.manifest.config.mediaType, config: JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown },
      () => [],
    );
    return;
  }
  ctx.output.raw(bytes);
}

export async function inspectCommand(ctx: CliContext, refArg: string): Promise<void> {
  const ref = parseReference(refArg);
  const repository = (await ctx.registry(ref.registry)).repository(ref.repository);
  const summary = await inspect(repository, ref, { platform: ctx.platform() });
  ctx.output.result(summary, renderSummary);
}

function renderSummary(s: InspectSummary): string[] {
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
      ];
    case "schema1":
      return [...head, `Platform:    ${s.platform}`, `Layers:      ${s.layers.length}`, ...s.layers.map((l) => `  ${l.digest}`)];
  }
}

export async function blobGet(ctx: CliContext, blobArg: string, options: { output?: string; progress?: string }): Promise<void> {
  const ref = blobReference(blobArg);
  const digest = ref.digest as string;
  const client = (await ctx.registry(ref.registry)).client;
  const { size } = await client.headBlob(ref.repository, digest);
  // A single download shows a bar on a terminal and stays silent in scripts unless --progress says otherwise.
  const mode = chooseProgressMode(options.progress ?? (ctx.io.stderr.isTTY ? "tty" : "none"), ctx.io.stderr, ctx.output.quiet);
  const progress = createProgress(mode, ctx.io.stderr);
  progress.start(digest, digest.slice(0, 19), size);
  try {
    const stream = await client.getBlob(ref.repository, digest, { expectedSize: size, onProgress: (bytes) => progress.update(digest, bytes) });
    if (options.output !== undefined) {
      await writeStreamAtomic(options.output, stream);
    } else {
      for await (const chunk of stream) {
        if (!ctx.io.stdout.write(chunk as Buffer)) await new Promise((resolve) => ctx.io.stdout.once("drain", resolve));
      }
    }
    progress.done(digest);
  } finally {
    progress.stop();
  }
  if (options.output !== undefined && ctx.output.json) ctx.output.result({ digest, size, path: options.output }, () => []);
}

export async function blobSize(ctx: CliContext, blobArg: string): Promise<void> {
  const ref = blobReference(blobArg);
  const client = (await ctx.registry(ref.registry)).client;
  const descriptor = await client.headBlob(ref.repository, ref.digest as string);
  ctx.output.result({ digest: descriptor.digest, size: descriptor.size }, (d) => String(d.size));
}

function blobReference(arg: string): Reference {
  const ref = parseReference(arg);
  if (ref.digest === undefined) throw new UsageError(`${arg}: expected REPOSITORY@DIGEST`);
  return ref;
}

function pageOptions(options: { pageSize?: number }): { pageSize?: number } {
  return options.pageSize !== undefined ? { pageSize: options.pageSize } : {};
}
