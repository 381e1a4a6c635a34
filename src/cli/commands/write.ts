/** Write commands: copy, tag, delete, untag, check, blob put/mount/delete, login, logout. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { dockerConfigPath, removeDockerCredential, saveDockerCredential } from "../../auth/credentials.js";
import { checkImage } from "../../copy/check.js";
import { copyImage, type CopyEvent, type CopyResult } from "../../copy/copy.js";
import { DigestHasher } from "../../digest/digest.js";
import { QuaysideError } from "../../errors.js";
import { formatPlatform, hostPlatform, parsePlatform } from "../../ref/platform.js";
import { DockerArchiveStore } from "../../store/docker-archive.js";
import { OciLayoutStore } from "../../store/oci-layout.js";
import { parseReference, parseRepository } from "../../ref/reference.js";
import { openLocation, type OpenedLocation } from "../../store/open.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { formatBytes } from "../output.js";
import { chooseProgressMode, createProgress, type ProgressReporter } from "../progress.js";

export interface CopyCommandOptions {
  allPlatforms?: boolean;
  referrers?: boolean;
  /** Docker config files with the credentials for the source / destination registry (instead of -u or the usual config). */
  srcAuthFile?: string;
  destAuthFile?: string;
  jobs?: number;
  progress?: string;
}

export async function copy(ctx: CliContext, sourceText: string, destinationText: string, options: CopyCommandOptions): Promise<void> {
  const platforms = ctx.options.platform?.split(",").map((p) => parsePlatform(p.trim()));
  if (platforms && options.allPlatforms) throw new UsageError("--platform and --all-platforms exclude each other");
  const registryClient = (authFile: string | undefined) => async (host: string) => (await ctx.registry(host, authFile)).client;
  if ((options.srcAuthFile !== undefined || options.destAuthFile !== undefined) && ctx.options.username !== undefined) {
    throw new UsageError("--src-authfile/--dest-authfile and --username exclude each other");
  }
  for (const file of [options.srcAuthFile, options.destAuthFile]) {
    if (file !== undefined) await stat(file).catch((err: NodeJS.ErrnoException) => Promise.reject(new UsageError(`cannot read ${file}: ${err.code ?? err.message}`)));
  }
  const source = await openLocation(sourceText, "source", { registryClient: registryClient(options.srcAuthFile) });
  const destination = await openLocation(destinationText, "destination", { registryClient: registryClient(options.destAuthFile) }).catch(async (err: unknown) => {
    await source.store.abort();
    throw err;
  });
  const mode = chooseProgressMode(options.progress, ctx.io.stderr, ctx.output.quiet);
  const progress = createProgress(mode, ctx.io.stderr);
  let result: CopyResult;
  // From here on a failure, a usage error included, leaves nothing half-written (an archive's temp file).
  try {
    if (options.referrers) {
      for (const [text, location] of [[sourceText, source], [destinationText, destination]] as const) {
        if (location.store.referrers === undefined) throw new UsageError(`--referrers: ${text} cannot hold referrers (registries and OCI layouts can)`);
      }
    }
    // A docker archive holds single-platform images: without --platform, take this host's (as skopeo does).
    const chosen = platforms ?? (destination.store instanceof DockerArchiveStore && !options.allPlatforms ? [hostPlatform()] : undefined);
    if (chosen !== platforms) ctx.output.info(`note: ${destinationText} holds one platform per image; copying ${formatPlatform(hostPlatform())} (pick another with --platform)`);
    result = await copyImage(source.store, requireName(source, sourceText), destination.store, destination.tag, {
      platforms: chosen,
      ...(options.referrers ? { referrers: true } : {}),
      ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
      // No listener, no per-chunk counting on the hot path.
      ...(mode !== "none" ? { onEvent: progressHandler(progress) } : {}),
    });
    await destination.store.close();
    await source.store.close();
  } catch (err) {
    await Promise.allSettled([destination.store.abort(), source.store.abort()]);
    throw err;
  } finally {
    progress.stop();
  }
  if (destination.store instanceof OciLayoutStore && destination.tag !== undefined && !result.destination.mediaType.startsWith("application/vnd.oci.")) {
    ctx.output.info(`note: ${result.destination.mediaType} is not an OCI type; skopeo and umoci find only OCI manifests by tag in a layout`);
  }
  if (destination.name !== undefined && destination.tag === undefined && destination.name !== result.destination.digest) {
    throw new QuaysideError("DIGEST_MISMATCH", `copied image has digest ${result.destination.digest}, not ${destination.name}`, { category: "integrity" });
  }
  const summary = { from: sourceText, to: destinationText, ...result };
  ctx.output.result(summary, (r) => [
    `${r.from} -> ${r.to} (${r.destination.digest})`,
    `  blobs: ${r.blobs.copied} copied, ${r.blobs.skipped} already there, ${r.blobs.mounted} mounted; manifests: ${r.manifests.copied} written, ${r.manifests.skipped} already there${r.referrers > 0 ? ` (${r.referrers} of them referrers)` : ""}`,
    `  ${formatBytes(r.bytes)} in ${(r.durationMs / 1000).toFixed(2)} s${r.platforms.length > 0 ? `; platforms: ${r.platforms.join(", ")}` : ""}`,
    ...(r.indexRewritten ? [`  note: a new index of the chosen platforms was written; its digest differs from the source's ${r.source.digest}`] : []),
  ]);
}

function requireName(location: OpenedLocation, text: string): string {
  if (location.name === undefined) throw new UsageError(`${text}: name a tag or digest`);
  return location.name;
}

/** Engine events -> one bar (or line) per blob plus a total. */
function progressHandler(progress: ProgressReporter): (event: CopyEvent) => void {
  const done = new Map<string, number>();
  let total = 0;
  let transferred = 0;
  return (event) => {
    switch (event.type) {
      case "plan":
        total = event.blobs.reduce((sum, b) => sum + b.size, 0);
        progress.start("total", "total".padEnd(12), total);
        return;
      case "blob-start":
        progress.start(event.descriptor.digest, event.descriptor.digest.slice(7, 19), event.descriptor.size);
        return;
      case "blob-progress": {
        const before = done.get(event.descriptor.digest) ?? 0;
        done.set(event.descriptor.digest, event.bytes);
        transferred += event.bytes - before;
        progress.update(event.descriptor.digest, event.bytes);
        progress.update("total", transferred);
        return;
      }
      case "blob-done": {
        const before = done.get(event.descriptor.digest) ?? 0;
        transferred += event.descriptor.size - before;
        done.set(event.descriptor.digest, event.descriptor.size);
        progress.done(event.descriptor.digest, event.outcome);
        progress.update("total", transferred);
        if (transferred >= total) progress.done("total");
        return;
      }
      case "manifest-done":
        return;
    }
  };
}

/** `tag REF NEWTAG`: the same manifest bytes under another tag; NEWTAG may name another repository (blobs follow, mounted where possible). */
export async function tag(ctx: CliContext, refText: string, newTag: string): Promise<void> {
  const ref = parseReference(refText);
  if (!newTag.includes("/") && !newTag.includes("@")) {
    const client = (await ctx.registry(ref.registry)).client;
    const manifest = await client.getManifest(ref.repository, ref.reference);
    const put = await client.putManifest(ref.repository, ref.withTag(newTag).reference, manifest.bytes, { mediaType: manifest.mediaType });
    ctx.output.result({ source: ref.toString(), tagged: ref.withTag(newTag).toString(), digest: put.digest }, (r) => `${r.tagged} -> ${r.digest}`);
    return;
  }
  await copy(ctx, refText, newTag, {});
}

export async function deleteCommand(ctx: CliContext, refText: string): Promise<void> {
  const ref = parseReference(refText);
  const client = (await ctx.registry(ref.registry)).client;
  if (ref.digest !== undefined) {
    await client.deleteManifest(ref.repository, ref.digest);
    ctx.output.result({ deleted: ref.digest, reference: ref.toString() }, (r) => `deleted ${r.deleted} (and every tag that pointed at it)`);
    return;
  }
  const descriptor = await client.deleteTag(ref.repository, ref.reference);
  ctx.output.result({ deleted: descriptor.digest, reference: ref.toString() }, (r) => [
    `deleted ${r.deleted}, which ${r.reference} pointed at`,
    "note: every other tag on that manifest is gone too; use `quayside untag` to remove a single tag",
  ]);
}

export async function untag(ctx: CliContext, refText: string): Promise<void> {
  const ref = parseReference(refText);
  if (ref.tag === undefined || ref.digest !== undefined) throw new UsageError(`${refText}: untag takes REPOSITORY:TAG`);
  const client = (await ctx.registry(ref.registry)).client;
  const result = await client.untag(ref.repository, ref.tag);
  ctx.output.result({ untagged: ref.toString(), digest: result.digest, method: result.method }, (r) => `removed tag ${r.untagged} (manifest ${r.digest} and its other tags kept)`);
}

export async function check(ctx: CliContext, refText: string): Promise<void> {
  const platforms = ctx.options.platform?.split(",").map((p) => parsePlatform(p.trim()));
  const registryClient = async (host: string) => (await ctx.registry(host)).client;
  const location = await openLocation(refText, "source", { registryClient });
  try {
    const result = await checkImage(location.store, requireName(location, refText), { platforms });
    ctx.output.result({ reference: refText, complete: result.missing.length === 0, ...result }, (r) =>
      r.complete
        ? `${r.reference}: complete (${r.manifests} manifests, ${r.blobs} blobs present)`
        : [`${r.reference}: ${r.missing.length} of ${r.blobs} blobs missing`, ...r.missing.map((m) => `  missing ${m.digest} (${formatBytes(m.size)})`)],
    );
    if (result.missing.length > 0) throw new QuaysideError("INCOMPLETE_IMAGE", `${refText}: ${result.missing.length} blob(s) missing`, { category: "not-found" });
  } finally {
    await location.store.close();
  }
}

export async function blobPut(ctx: CliContext, repoText: string, file: string, options: { progress?: string }): Promise<void> {
  const { registry, repository } = parseRepository(repoText);
  const client = (await ctx.registry(registry)).client;
  const { size } = await stat(file);
  const digest = await sha256File(file);
  const progress = createProgress(chooseProgressMode(options.progress ?? (ctx.io.stderr.isTTY ? "tty" : "none"), ctx.io.stderr, ctx.output.quiet), ctx.io.stderr);
  progress.start(digest, file, size);
  try {
    const result = await client.pushBlob(repository, createReadStream(file), { digest, size, onProgress: (bytes) => progress.update(digest, bytes) });
    progress.done(digest, result.outcome);
    ctx.output.result({ repository: `${registry}/${repository}`, digest, size, outcome: result.outcome }, (r) => r.digest);
  } finally {
    progress.stop();
  }
}

export async function blobMount(ctx: CliContext, repoText: string, fromRepo: string, digest: string): Promise<void> {
  const { registry, repository } = parseRepository(repoText);
  // FROM-REPO may repeat the registry ("host/other/repo") or leave it out ("other/repo").
  const named = fromRepo.includes("/") ? parseRepository(fromRepo) : undefined;
  const from = named?.registry === registry ? named.repository : fromRepo;
  const client = (await ctx.registry(registry)).client;
  const mounted = await client.mountBlob(repository, from, digest);
  if (!mounted) throw new QuaysideError("MOUNT_DECLINED", `${registry} did not mount ${digest} from ${from} into ${repository} (the blob may not exist there, or you may not pull it)`, { category: "not-found" });
  ctx.output.result({ repository: `${registry}/${repository}`, from, digest, mounted }, (r) => `mounted ${r.digest} from ${r.from}`);
}

export async function blobDelete(ctx: CliContext, blobText: string): Promise<void> {
  const ref = parseReference(blobText);
  if (ref.digest === undefined) throw new UsageError(`${blobText}: expected REPOSITORY@DIGEST`);
  const client = (await ctx.registry(ref.registry)).client;
  await client.deleteBlob(ref.repository, ref.digest);
  ctx.output.result({ deleted: ref.digest, repository: `${ref.registry}/${ref.repository}` }, (r) => `deleted blob ${r.deleted}`);
}

export async function login(ctx: CliContext, registryHost: string): Promise<void> {
  if (ctx.options.username === undefined) throw new UsageError("login needs -u/--username and --password-stdin");
  const registry = await ctx.registry(registryHost);
  await registry.client.checkAuth();
  const credential = await ctx.credential();
  if (credential?.kind !== "basic") throw new UsageError("login needs -u/--username and --password-stdin");
  const path = dockerConfigPath(ctx.io.env);
  await saveDockerCredential(path, registryHost, credential.username, credential.password);
  ctx.output.result({ registry: registryHost, username: credential.username, config: path }, (r) => `Login succeeded: ${r.username} at ${r.registry} (saved in ${r.config})`);
}

export async function logout(ctx: CliContext, registryHost: string): Promise<void> {
  const path = dockerConfigPath(ctx.io.env);
  const removed = await removeDockerCredential(path, registryHost);
  ctx.output.result({ registry: registryHost, removed, config: path }, (r) => (r.removed ? `Removed credentials for ${r.registry} from ${r.config}` : `No credentials for ${r.registry} in ${r.config}`));
}

async function sha256File(file: string): Promise<string> {
  const hasher = new DigestHasher();
  for await (const chunk of createReadStream(file)) hasher.update(chunk as Buffer);
  return hasher.digest();
}
