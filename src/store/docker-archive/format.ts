/** The docker-archive format: entry names, locations (docker-archive:PATH[:REF]), shared checks and errors. */
import { parseDigest } from "../../digest/digest.js";
import { InvalidReferenceError, QuaysideError, quoted } from "../../errors.js";
import { MediaType, normalizeMediaType, type Descriptor } from "../../media/types.js";
import { parseReference } from "../../ref/reference.js";


/** Media type of an uncompressed Docker layer (docker save stores layers this way). */
export const DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

export const MANIFEST_JSON = "manifest.json";
export const REPOSITORIES = "repositories";
export const MANIFEST_JSON_LIMIT = 8 * 1024 * 1024;
export const HASH_JOBS = 4;
/** Entries get a fixed mtime (as skopeo writes them) so the same content makes the same archive. */
export const EPOCH = new Date(0);

// ---------------------------------------------------------------------------------------------
// Locations: docker-archive:PATH[:REF]

export interface ArchiveLocation {
  path: string;
  /**
   * What follows the path: "@N" (a zero-based index into manifest.json, sources only) or a
   * "repo:tag" name (":latest" appended when no tag was given, as skopeo does). Undefined: the
   * archive's only image (source) or an untagged image (destination).
   */
  reference?: string;
}

/**
 * Parse "docker-archive:PATH[:REF]" (the "docker-archive:" prefix may be omitted) the way skopeo
 * does: the path ends at the FIRST ':' (so a path cannot contain ':'), the rest is "@N" or a
 * tagged name; digest references are refused.
 */
export function parseArchiveLocation(text: string): ArchiveLocation {
  const body = text.startsWith("docker-archive:") ? text.slice("docker-archive:".length) : text;
  if (body === "") throw new InvalidReferenceError(text, "reference", "is not of the form docker-archive:PATH[:REF]");
  const colon = body.indexOf(":");
  if (colon < 0) return { path: body };
  const path = body.slice(0, colon);
  const reference = body.slice(colon + 1);
  if (path === "") throw new InvalidReferenceError(text, "reference", "has an empty path");
  return { path, reference: parseArchiveReference(reference, text) };
}

function parseArchiveReference(reference: string, input: string): string {
  if (reference.startsWith("@")) {
    if (!/^@\d+$/.test(reference)) throw new InvalidReferenceError(input, "reference", `source index ${quoted(reference)} must be @ followed by a non-negative integer`);
    return `@${Number(reference.slice(1))}`;
  }
  return normalizeRepoTag(reference, input).text;
}

export interface RepoTag {
  /** As given, ":latest" appended when no tag was given. Written into RepoTags. */
  text: string;
  /** Fully normalized ("docker.io/library/x:latest"), for comparisons. */
  key: string;
  /** `text` without its ":tag" (the `repositories` key). */
  repository: string;
  tag: string;
}

/** A "repo[:tag]" name for RepoTags. No digests: docker-archive cannot name images by digest. */
export function normalizeRepoTag(text: string, input = text): RepoTag {
  if (text === "") throw new InvalidReferenceError(input, "reference", "is empty (expected repo:tag)");
  if (text.includes("@")) throw new InvalidReferenceError(input, "digest", "is not supported: docker-archive names images by repo:tag only");
  const parsed = parseReference(text);
  const hasTag = text.slice(text.lastIndexOf("/") + 1).includes(":");
  const full = hasTag ? text : `${text}:${parsed.tag ?? "latest"}`;
  const cut = full.lastIndexOf(":");
  return { text: full, key: parsed.toString(), repository: full.slice(0, cut), tag: full.slice(cut + 1) };
}

// ---------------------------------------------------------------------------------------------
// Errors

export function unsupported(message: string): QuaysideError {
  return new QuaysideError("UNSUPPORTED_IN_ARCHIVE", message, { category: "invalid-input" });
}

export function invalidArchive(path: string, message: string): QuaysideError {
  return new QuaysideError("INVALID_ARCHIVE", `${path}: ${message}`, { category: "invalid-input" });
}

export const INDEX_MESSAGE =
  "docker-archive holds single-platform images only: an image index / manifest list cannot be stored; pick one platform (e.g. --platform linux/amd64)";

// ---------------------------------------------------------------------------------------------
// Helpers

const CONFIG_MEDIA_TYPES = new Set<string>([MediaType.DockerConfig, MediaType.OciConfig]);

export function isConfigMediaType(mediaType: string): boolean {
  return CONFIG_MEDIA_TYPES.has(normalizeMediaType(mediaType));
}

/** Blobs that are neither image config nor filesystem layer (artifact configs, signatures, attestations). */
export function isNonImageBlob(mediaType: string): boolean {
  const mt = normalizeMediaType(mediaType);
  return mt === MediaType.OciEmpty || (mt.endsWith("+json") && !isConfigMediaType(mt)) || mt.endsWith("+jwt");
}

/** The tar entry name a pushed blob gets: "<hex>.json" for configs, "<hex>.tar[.gz|.zst]" for layers. */
export function blobEntryName(descriptor: Descriptor): string {
  const { hex } = parseDigest(descriptor.digest);
  const mt = normalizeMediaType(descriptor.mediaType);
  if (isConfigMediaType(mt)) return `${hex}.json`;
  if (/gzip$/.test(mt)) return `${hex}.tar.gz`;
  if (/zstd$/.test(mt)) return `${hex}.tar.zst`;
  return `${hex}.tar`;
}

export function layerMediaTypeOf(magic: Buffer): string {
  if (magic.length >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) return MediaType.DockerLayer;
  if (magic.length >= 4 && magic.readUInt32BE(0) === 0x28b52ffd) return MediaType.OciLayerZstd;
  return DOCKER_LAYER_TAR;
}

