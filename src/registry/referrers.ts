/**
 * The OCI 1.1 referrers tag schema, for registries without the referrers API: the referrers of
 * a manifest are listed in an OCI index tagged `<alg>-<hex>` (its digest with `-` for `:`), which
 * whoever pushes a manifest with a `subject` keeps up to date when the registry does not.
 */
import { parseDigest } from "../digest/digest.js";
import { MediaType, type Descriptor } from "../media/types.js";

/** The fallback tag for the referrers of `digest` (algorithm cut to 32 characters, hex to 64, as the spec says). */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
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
