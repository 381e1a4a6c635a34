/**
 * python-dxf's aliases, the pure part: a registry used as a blob store names a list of blobs with
 * a tag ("alias") on a schema-2 manifest. This module builds that manifest byte for byte as dxf
 * does (so an alias set by either tool has the same digest) and reads blob lists back out of one.
 */
import { parseDigest } from "../digest/digest.js";
import { UsageError } from "../errors.js";
import { formatPlatform, isAttestation } from "../ref/platform.js";
import type { ImageManifest, IndexManifest } from "./manifest.js";
import { MediaType, type Descriptor } from "./types.js";

/** The media type dxf gives every blob of an alias: the blobs are opaque data, not image layers. */
export const ALIAS_LAYER_MEDIA_TYPE = "application/octet-stream";
/** The config slot's media type: schema 2 insists on a config, and dxf reuses the first blob as it. */
export const ALIAS_CONFIG_MEDIA_TYPE = MediaType.DockerConfig;

export interface AliasBlob {
  digest: string;
  size: number;
}

/**
 * The manifest text dxf's set_alias writes for these blobs, in order: every blob a layer
 * (application/octet-stream) and the first one also the config. The text is what Python's
 * `json.dumps(..., sort_keys=True)` prints (keys sorted, ", " and ": " separators), so quayside
 * and dxf give the same blobs the same manifest digest.
 */
export function buildAliasManifest(blobs: readonly AliasBlob[]): string {
  const first = blobs[0];
  if (first === undefined) throw new UsageError("an alias needs at least one blob digest");
  for (const blob of blobs) {
    parseDigest(blob.digest);
    if (!Number.isSafeInteger(blob.size) || blob.size < 0) throw new UsageError(`blob ${blob.digest}: invalid size ${blob.size}`);
  }
  const layers = blobs.map((b) => ({ mediaType: ALIAS_LAYER_MEDIA_TYPE, size: b.size, digest: b.digest }));
  return pythonJson({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifestV2,
    config: { mediaType: ALIAS_CONFIG_MEDIA_TYPE, size: first.size, digest: first.digest },
    layers,
  });
}

/** The blobs an alias names: the layers of its manifest, in order (dxf's get_alias). */
export function aliasBlobs(manifest: ImageManifest): AliasBlob[] {
  return manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size }));
}

/**
 * The entries of a multi-arch alias, by platform name, in index order. Entries without a platform
 * and attestation manifests (BuildKit's "unknown/unknown") are not platforms and are left out; when
 * two entries share a name, the first is kept (dxf keeps the last: its dict overwrites).
 */
export function aliasPlatforms(index: IndexManifest): Map<string, Descriptor> {
  const named = new Map<string, Descriptor>();
  for (const entry of index.manifests) {
    if (entry.platform === undefined || isAttestation(entry)) continue;
    const name = formatPlatform(entry.platform);
    if (!named.has(name)) named.set(name, entry);
  }
  return named;
}

type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** JSON as Python's json.dumps(value, sort_keys=True) writes it (ASCII strings only, which digests and media types are). */
export function pythonJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(pythonJson).join(", ")}]`;
  const object = value as { readonly [key: string]: JsonValue };
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}: ${pythonJson(object[key] as JsonValue)}`).join(", ")}}`;
}
