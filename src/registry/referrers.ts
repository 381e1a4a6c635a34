/**
 * The OCI 1.1 referrers tag schema, for registries without the referrers API: the referrers of
 * a manifest are listed in an OCI index tagged `<alg>-<hex>` (its digest with `-` for `:`), which
 * whoever pushes a manifest with a `subject` keeps up to date when the registry does not.
 */
import { parseDigest } from "../digest/digest.js";
import type { Manifest } from "../media/manifest.js";
import { MediaType, type Descriptor } from "../media/types.js";

/** The fallback tag for the referrers of `digest` (algorithm cut to 32 characters, hex to 64, as the spec says). */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}

/** The subject a manifest refers to, if any. */
export function subjectOf(manifest: Manifest): Descriptor | undefined {
  return manifest.kind === "oci-manifest" || manifest.kind === "oci-index" ? manifest.subject : undefined;
}

/** How a referrer is listed: its descriptor with artifactType (else an image's config type) and annotations. */
export function referrerDescriptor(manifest: Manifest, size: number): Descriptor {
  const artifactType = manifest.kind === "oci-manifest" ? (manifest.artifactType ?? manifest.config.mediaType) : manifest.kind === "oci-index" ? manifest.artifactType : undefined;
  const annotations = manifest.kind === "oci-manifest" || manifest.kind === "oci-index" ? manifest.annotations : undefined;
  return { mediaType: manifest.mediaType, digest: manifest.digest, size, ...(artifactType !== undefined ? { artifactType } : {}), ...(annotations !== undefined ? { annotations } : {}) };
}

/**
 * The fallback index with `referrer` added (existing entries and fields kept), or undefined when
 * it lists that digest already. `existing` is the index's JSON, or undefined when there is none.
 */
export function withReferrer(existing: Uint8Array | undefined, referrer: Descriptor): Uint8Array | undefined {
  const index = existing !== undefined ? (JSON.parse(Buffer.from(existing).toString("utf8")) as { manifests?: Descriptor[] }) : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const manifests = index.manifests ?? [];
  if (manifests.some((m) => m.digest === referrer.digest)) return undefined;
  return Buffer.from(JSON.stringify({ ...index, manifests: [...manifests, referrer] }));
}
