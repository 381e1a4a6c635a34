/**
 * The OCI 1.1 referrers tag schema, for registries without the referrers API: the referrers of
 * a manifest are listed in an OCI index tagged `<alg>-<hex>` (its digest with `-` for `:`), which
 * whoever pushes a manifest with a `subject` keeps up to date when the registry does not.
 */
import { parseDigest } from "../digest/digest.js";

/** The fallback tag for the referrers of `digest` (algorithm cut to 32 characters, hex to 64, as the spec says). */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}
