/**
 * Manifests by tag or digest: GET (exact bytes, digest-checked), the media-type preference mode,
 * HEAD, PUT (the served digest checked) and DELETE. Keeping the referrers fallback index in
 * step after a PUT is referrers.ts's part.
 */
import { repositoryScope } from "../auth/scope.js";
import { digestOf, isDigest, parseDigest } from "../digest/digest.js";
import { DigestMismatchError, RegistryError, UnexpectedMediaTypeError } from "../errors.js";
import { parseManifest, type Manifest } from "../media/manifest.js";
import { isManifestMediaType, MANIFEST_MEDIA_TYPES, type Descriptor } from "../media/types.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { mediaTypeOf, sendDelete, type RegistrySession, type RequestOptions } from "./session.js";

export interface ManifestRequestOptions extends RequestOptions {
  /** Accept only these media types; a server answering with another is an error. Default: all manifest types. */
  accept?: readonly string[];
}

/** What a PUT stored, and whether the registry said it lists the manifest's subject itself. */
export interface PutManifestResult {
  manifest: Manifest;
  descriptor: Descriptor;
  /** The registry answered OCI-Subject: it has the referrers API, no fallback index to keep. */
  subjectListed: boolean;
}

/** GET a manifest by tag or digest. The bytes are kept exactly as served and digest-checked. */
export async function getManifest(session: RegistrySession, repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Manifest> {
  const accept = options.accept ?? MANIFEST_MEDIA_TYPES;
  const response = await session.send({
    method: "GET",
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [repositoryScope(repository, "pull")],
    headers: { accept: accept.join(", ") },
    expect: [200],
    signal: options.signal,
  });
  const bytes = await response.bytes(MANIFEST_SIZE_LIMIT);
  const contentType = mediaTypeOf(response.header("content-type"));
  const manifest = parseManifest(bytes, contentType !== undefined && isManifestMediaType(contentType) ? contentType : undefined);
  if (options.accept !== undefined && !options.accept.includes(manifest.mediaType)) {
    throw new UnexpectedMediaTypeError(options.accept, manifest.mediaType, `${repository}:${reference}`);
  }
  verifyManifestDigest(manifest, response.header("docker-content-digest"), reference, `${repository}:${reference}`);
  return manifest;
}

/**
 * pubtools-quay's preference mode: ask for each media type in turn, one request each, and
 * return the first answer whose type is exactly the one asked for. A registry may answer a
 * type it cannot serve with 404 (distribution does for an OCI index asked as a Docker list),
 * so a not-found only counts once every type has been tried.
 */
export async function getManifestPreferring(session: RegistrySession, repository: string, reference: string, preference: readonly string[], options: RequestOptions = {}): Promise<Manifest> {
  let notFound: unknown;
  const served: string[] = [];
  for (const mediaType of preference) {
    try {
      return await getManifest(session, repository, reference, { ...options, accept: [mediaType] });
    } catch (err) {
      if (err instanceof UnexpectedMediaTypeError) served.push(err.actual);
      else if (err instanceof RegistryError && err.category === "not-found") notFound ??= err;
      else throw err;
    }
  }
  if (served.length === 0 && notFound !== undefined) throw notFound;
  throw new UnexpectedMediaTypeError(preference, served.join(", "), `${repository}:${reference}`);
}

/** HEAD a manifest: its descriptor (digest, media type, size) without the body. */
export async function headManifest(session: RegistrySession, repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Descriptor> {
  const accept = options.accept ?? MANIFEST_MEDIA_TYPES;
  const response = await session.send({
    method: "HEAD",
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [repositoryScope(repository, "pull")],
    headers: { accept: accept.join(", ") },
    expect: [200],
    signal: options.signal,
  });
  await response.dump();
  const digest = response.header("docker-content-digest");
  const mediaType = mediaTypeOf(response.header("content-type"));
  const size = Number(response.header("content-length"));
  // Some registries omit the digest on HEAD; a GET tells it for certain.
  if (digest === undefined || !isDigest(digest) || mediaType === undefined || !Number.isSafeInteger(size)) {
    const manifest = await getManifest(session, repository, reference, options);
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
  }
  if (isDigest(reference) && parseDigest(reference).algorithm === parseDigest(digest).algorithm && reference !== digest) {
    throw new DigestMismatchError(reference, digest, `manifest ${repository}@${reference}`);
  }
  return { mediaType, digest, size };
}

/**
 * PUT exact manifest bytes under a tag or digest, with the Content-Type of the manifest's own
 * media type (detected by shape when absent). The digest the server answers is checked.
 */
export async function putManifest(session: RegistrySession, repository: string, reference: string, bytes: Uint8Array, options: RequestOptions & { mediaType?: string } = {}): Promise<PutManifestResult> {
  const manifest = parseManifest(bytes, options.mediaType);
  if (isDigest(reference) && reference !== manifest.digest) throw new DigestMismatchError(reference, manifest.digest, `manifest to put at ${repository}@${reference}`);
  const response = await session.send({
    method: "PUT",
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [repositoryScope(repository, "pull", "push")],
    headers: { "content-type": manifest.mediaType },
    body: bytes,
    expect: [201],
    signal: options.signal,
  });
  await response.dump();
  const served = response.header("docker-content-digest");
  if (served !== undefined && served !== manifest.digest) throw new DigestMismatchError(manifest.digest, served, `manifest ${repository}:${reference}`);
  return {
    manifest,
    descriptor: { mediaType: manifest.mediaType, digest: manifest.digest, size: bytes.length },
    subjectListed: response.header("oci-subject") !== undefined,
  };
}

/** DELETE a manifest by digest: every tag pointing at it goes with it. */
export async function deleteManifest(session: RegistrySession, repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
  parseDigest(digest);
  await sendDelete(session, `/v2/${repository}/manifests/${digest}`, repository, options);
}

/**
 * Delete what a tag points at: resolves the tag to its digest, then deletes the manifest.
 * EVERY tag on that manifest disappears with it (untag.ts removes just one).
 */
export async function deleteTag(session: RegistrySession, repository: string, tag: string, options: RequestOptions = {}): Promise<Descriptor> {
  const descriptor = await headManifest(session, repository, tag, options);
  await deleteManifest(session, repository, descriptor.digest, options);
  return descriptor;
}

/** Check served manifest bytes against the Docker-Content-Digest header and a requested digest, in their algorithms. */
function verifyManifestDigest(manifest: Manifest, header: string | undefined, reference: string, what: string): void {
  for (const expected of [header, isDigest(reference) ? reference : undefined]) {
    if (expected === undefined || !isDigest(expected)) continue;
    const { algorithm } = parseDigest(expected);
    const actual = algorithm === "sha256" ? manifest.digest : digestOf(manifest.bytes, algorithm);
    if (actual !== expected) throw new DigestMismatchError(expected, actual, `manifest ${what}`);
  }
}
