/**
 * Merging two manifest lists / OCI indexes the way pubtools-quay's ManifestListMerger does:
 * every entry of the source, then the entries of the destination whose platform the source
 * lacks. Pure: bytes in, bytes out; pushing and copying children is the operations layer's part.
 */
import { UnsupportedError } from "../errors.js";
import { normalizePlatform } from "../ref/platform.js";
import { manifestDigest, type IndexManifest } from "./manifest.js";
import { MediaType, normalizeMediaType, type Descriptor, type Platform } from "./types.js";

/**
 * How a destination entry is matched against the source's: by `platform` (os, architecture and
 * variant normalized as containerd does, so arm64 = arm64/v8 but arm/v6 != arm/v7, and os.version
 * when either gives one), or by `architecture` alone, exactly as written (pubtools' rule, which
 * assumes one OS per list).
 */
export type PlatformMatch = "platform" | "architecture";

export interface MergedIndex {
  /** The merged index's exact bytes: the source's own when nothing of the destination is kept. */
  bytes: Uint8Array;
  /** The source's media type. */
  mediaType: string;
  /** sha256 of `bytes`. */
  digest: string;
  /** The source's entries, in its order (first in the result). */
  fromSource: Descriptor[];
  /** The destination's entries whose platform the source lacks, in its order (after the source's). */
  fromDestination: Descriptor[];
  /** The destination's entries left out: the source has their platform with another manifest. */
  replaced: Descriptor[];
}

/** The key two entries share when they stand for the same platform; "" for an entry without one. */
export function platformKey(platform: Platform | undefined, match: PlatformMatch = "platform"): string {
  if (platform === undefined) return "";
  if (match === "architecture") return platform.architecture;
  const p = normalizePlatform(platform);
  const version = p["os.version"];
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}${version ? ` ${version}` : ""}`;
}

/** Manifest types a Docker manifest list may hold (an OCI index may hold any manifest). */
const DOCKER_LIST_CHILDREN = new Set<string>([MediaType.DockerManifestV2, MediaType.DockerManifestV1, MediaType.DockerManifestV1Signed, MediaType.DockerManifestList]);

type JsonObject = Record<string, unknown>;

/**
 * Merge `destination` into `source`: the source's entries, then the destination's whose platform
 * the source has not (each entry's JSON kept as written, so every child's digest is unchanged).
 * No destination: the source itself. The result keeps the source's media type and fields; a
 * Docker manifest list cannot take an OCI manifest from an OCI index (UnsupportedError).
 */
export function mergeIndexes(source: IndexManifest, destination: IndexManifest | undefined, options: { match?: PlatformMatch | undefined; where?: string | undefined } = {}): MergedIndex {
  const match = options.match ?? "platform";
  const inSource = new Set(source.manifests.map((d) => platformKey(d.platform, match)));
  const sourceDigests = new Set(source.manifests.map((d) => d.digest));
  const fromDestination: Descriptor[] = [];
  const replaced: Descriptor[] = [];
  const keptJson: unknown[] = [];
  if (destination !== undefined) {
    const rawEntries = entriesOf(destination.bytes);
    destination.manifests.forEach((entry, i) => {
      if (inSource.has(platformKey(entry.platform, match))) {
        // The source's own entry (a merge run again) is kept, not replaced.
        if (!sourceDigests.has(entry.digest)) replaced.push(entry);
        return;
      }
      if (source.kind === "docker-list" && !DOCKER_LIST_CHILDREN.has(normalizeMediaType(entry.mediaType))) {
        throw new UnsupportedError(
          `${options.where ?? "index merge"}: the destination's ${platformKey(entry.platform) || "entry"} ${entry.digest} is ${entry.mediaType}, which a Docker manifest list cannot hold; merge from an OCI index instead`,
        );
      }
      fromDestination.push(entry);
      keptJson.push(rawEntries[i]);
    });
  }
  const common = { mediaType: source.mediaType, fromSource: [...source.manifests], fromDestination, replaced };
  // Nothing to add: the source's bytes, so the destination ends up with the source's digest.
  if (fromDestination.length === 0) return { ...common, bytes: source.bytes, digest: source.digest };
  const root = JSON.parse(new TextDecoder().decode(source.bytes)) as JsonObject;
  root["manifests"] = [...entriesOf(source.bytes), ...keptJson];
  const bytes = new TextEncoder().encode(JSON.stringify(root));
  return { ...common, bytes, digest: manifestDigest(bytes, source.mediaType) };
}

/** The `manifests` array of an index as written (every field kept, known or not). */
function entriesOf(bytes: Uint8Array): unknown[] {
  const root = JSON.parse(new TextDecoder().decode(bytes)) as JsonObject;
  const entries = root["manifests"];
  return Array.isArray(entries) ? entries : [];
}
