/**
 * quay:// discovery: the repositories of an organization that match a glob, and their tags that
 * match a name or a glob, as ordinary references with the digest and times Quay reported, so
 * every other part of quayside works on them. Tag queries run concurrently while the repository
 * pages still come in; the result is sorted, whatever the order they completed in.
 */
import { createHash } from "node:crypto";
import { QuayApiError, UsageError } from "../errors.js";
import { forEachLimitAsync } from "../util/limit.js";
import type { QuayClient, QuayRepository, QuayTag } from "./client.js";
import { daySeconds, globMatcher, literalPrefix, type QuayUri } from "./uri.js";

export const DEFAULT_DISCOVER_JOBS = 8;

export interface DiscoveredImage {
  /** "HOST/ORG/REPO:TAG": an ordinary registry reference. */
  reference: string;
  registry: string;
  namespace: string;
  repository: string;
  tag: string;
  /** The digest Quay reported for the tag: no /v2/ request was made to learn it. */
  digest: string;
  manifestList: boolean;
  /** When the tag started pointing at this digest (ISO 8601, UTC). */
  started: string | undefined;
  /** When the tag expires (ISO 8601), if it has an end in the future. */
  expires: string | undefined;
}

/** One of N deterministic parts of a discovery (1 <= index <= count). */
export interface Shard {
  index: number;
  count: number;
}

export interface DiscoverOptions {
  /** Tag queries at once (default 8). */
  jobs?: number | undefined;
  /** Only the images of this shard. */
  shard?: Shard | undefined;
  signal?: AbortSignal | undefined;
  /** Things worth telling a person (an empty organization without a token). */
  onNote?: ((message: string) => void) | undefined;
}

export interface DiscoveryResult {
  /** Sorted by repository name, then tag (byte order). */
  images: DiscoveredImage[];
  /** Repositories listed, and those of them whose name matched. */
  repositories: { listed: number; matched: number };
}

/** "I/N" -> a shard; anything else is a usage error. */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard ${text}: expected I/N with 1 <= I <= N (e.g. 2/8)`);
  }
  return { index, count };
}

/**
 * Is ORG/REPO:TAG in this shard? A hash of the name alone (not of the host), so every machine of
 * a run splits the same way with no coordinator, and the shards are disjoint and complete.
 */
export function inShard(namespace: string, repository: string, tag: string, shard: Shard | undefined): boolean {
  if (shard === undefined || shard.count === 1) return true;
  const hash = createHash("sha256").update(`${namespace}/${repository}:${tag}`).digest();
  return hash.readUInt32BE(0) % shard.count === shard.index - 1;
}

export async function discover(client: QuayClient, uri: QuayUri, options: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const matchesName = uri.repositories === undefined ? () => true : globMatcher(uri.repositories);
  const matchesTag = uri.tagIsGlob ? globMatcher(uri.tag) : (name: string) => name === uri.tag;
  const since = uri.since === undefined ? undefined : daySeconds(uri.since);
  const prefix = uri.tagIsGlob ? literalPrefix(uri.tag) : "";
  const images: DiscoveredImage[] = [];
  let listed = 0;
  let matched = 0;

  // Repositories are filtered as their pages arrive; tag queries start at once.
  async function* candidates(): AsyncGenerator<QuayRepository> {
    for await (const repo of client.repositories(uri.namespace, { lastModified: since !== undefined, signal: options.signal })) {
      listed++;
      if (!matchesName(repo.name)) continue;
      // Nothing alive started since then: its tags need not be asked for.
      if (since !== undefined && (repo.lastModified === null || repo.lastModified === undefined || repo.lastModified < since)) continue;
      // A single tag's shard is known from its name alone: no request for the others.
      if (!uri.tagIsGlob && !inShard(repo.namespace, repo.name, uri.tag, options.shard)) continue;
      matched++;
      yield repo;
    }
  }

  const keep = (repo: QuayRepository, tag: QuayTag): void => {
    if (!matchesTag(tag.name)) return;
    if (since !== undefined && (tag.startTs === undefined || tag.startTs < since)) return;
    if (!inShard(repo.namespace, repo.name, tag.name, options.shard)) return;
    images.push(toImage(client.host, repo, tag));
  };

  await forEachLimitAsync(candidates(), options.jobs ?? DEFAULT_DISCOVER_JOBS, async (repo) => {
    try {
      if (!uri.tagIsGlob) {
        const tag = await client.tag(repo.namespace, repo.name, uri.tag, { signal: options.signal });
        if (tag !== undefined) keep(repo, tag);
        return;
      }
      const filter = prefix !== "" ? { like: prefix } : undefined;
      for await (const tag of client.tags(repo.namespace, repo.name, { filter, signal: options.signal })) keep(repo, tag);
    } catch (err) {
      // Deleted since it was listed (a namespace member sees 404); anything else stops the run.
      if (err instanceof QuayApiError && err.status === 404) return;
      throw err;
    }
  });

  if (listed === 0 && !client.authenticated) {
    options.onNote?.(`note: ${client.host}/${uri.namespace} listed no repositories; a private organization needs a token (--quay-token or QUAY_TOKEN)`);
  }
  images.sort(compareImages);
  return { images, repositories: { listed, matched } };
}

function toImage(host: string, repo: QuayRepository, tag: QuayTag): DiscoveredImage {
  return {
    reference: `${host}/${repo.namespace}/${repo.name}:${tag.name}`,
    registry: host,
    namespace: repo.namespace,
    repository: repo.name,
    tag: tag.name,
    digest: tag.manifestDigest,
    manifestList: tag.isManifestList,
    started: tag.startTs === undefined ? undefined : new Date(tag.startTs * 1000).toISOString(),
    expires: tag.endTs === undefined ? undefined : new Date(tag.endTs * 1000).toISOString(),
  };
}

/** Repository name, then tag, in byte order (not the locale's). */
export function compareImages(a: Pick<DiscoveredImage, "repository" | "tag">, b: Pick<DiscoveredImage, "repository" | "tag">): number {
  return Buffer.compare(Buffer.from(a.repository), Buffer.from(b.repository)) || Buffer.compare(Buffer.from(a.tag), Buffer.from(b.tag));
}
