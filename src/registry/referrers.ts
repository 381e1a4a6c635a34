/**
 * OCI 1.1 referrers (signatures, SBOMs, attestations): read through the referrers API or, where
 * a registry has none, the fallback tag schema — an OCI index tagged `<alg>-<hex>` (the subject's
 * digest with `-` for `:`) listing them, which whoever pushes a manifest with a `subject` keeps
 * up to date when the registry does not.
 */
import { repositoryScope } from "../auth/scope.js";
import { parseDigest } from "../digest/digest.js";
import { RegistryError } from "../errors.js";
import { isIndex, parseManifest, referrerDescriptor, subjectOf, withReferrer } from "../media/manifest.js";
import { MediaType, type Descriptor } from "../media/types.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { getManifest, putManifest } from "./manifests.js";
import type { RegistrySession, RequestOptions } from "./session.js";

/** The fallback tag for the referrers of `digest` (algorithm cut to 32 characters, hex to 64, as the spec says). */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}

/** The referrers of a manifest: the registry's referrers API, else the fallback index. Filtered by artifactType. */
export async function referrers(session: RegistrySession, repository: string, digest: string, options: RequestOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
  parseDigest(digest);
  const query = options.artifactType !== undefined ? `?${new URLSearchParams({ artifactType: options.artifactType })}` : "";
  const response = await session.send({
    method: "GET",
    path: `/v2/${repository}/referrers/${digest}${query}`,
    scopes: [repositoryScope(repository, "pull")],
    headers: { accept: MediaType.OciIndex },
    expect: [200, 404],
    signal: options.signal,
  });
  let entries: Descriptor[];
  if (response.status === 200) {
    const index = parseManifest(await response.bytes(MANIFEST_SIZE_LIMIT), MediaType.OciIndex);
    entries = isIndex(index) ? index.manifests : [];
  } else {
    await response.dump();
    entries = await fallbackReferrers(session, repository, referrersTag(digest), options);
  }
  return options.artifactType === undefined ? entries : entries.filter((d) => d.artifactType === options.artifactType);
}

/**
 * PUT a manifest (manifests.ts), and when it has a subject the registry did not answer with
 * OCI-Subject for, list it in the subject's fallback index: OCI 1.1 asks the client to.
 */
export async function putManifestListingReferrer(session: RegistrySession, repository: string, reference: string, bytes: Uint8Array, options: RequestOptions & { mediaType?: string } = {}): Promise<Descriptor> {
  const put = await putManifest(session, repository, reference, bytes, options);
  const subject = subjectOf(put.manifest);
  if (subject !== undefined && !put.subjectListed) await addToReferrersTag(session, repository, subject.digest, referrerDescriptor(put.manifest, bytes.length), options);
  return put.descriptor;
}

async function fallbackReferrers(session: RegistrySession, repository: string, tag: string, options: RequestOptions): Promise<Descriptor[]> {
  try {
    const index = await getManifest(session, repository, tag, { ...options, accept: [MediaType.OciIndex] });
    return isIndex(index) ? index.manifests : [];
  } catch (err) {
    if (err instanceof RegistryError && err.category === "not-found") return [];
    throw err;
  }
}

/** Add a referrer to the `<alg>-<hex>` index of its subject (made if missing). Not safe against a concurrent update of the same index. */
async function addToReferrersTag(session: RegistrySession, repository: string, subjectDigest: string, referrer: Descriptor, options: RequestOptions): Promise<void> {
  const tag = referrersTag(subjectDigest);
  let index: { manifests?: unknown[] } & Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  try {
    const existing = await getManifest(session, repository, tag, { ...options, accept: [MediaType.OciIndex] });
    index = JSON.parse(Buffer.from(existing.bytes).toString("utf8")) as { manifests?: unknown[] } & Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof RegistryError && err.category === "not-found")) throw err;
  }
  const updated = withReferrer(index, referrer);
  if (updated !== undefined) await putManifestListingReferrer(session, repository, tag, Buffer.from(JSON.stringify(updated)), { ...options, mediaType: MediaType.OciIndex });
}
