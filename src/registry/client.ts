/**
 * RegistryClient: the Docker Registry HTTP API v2 / OCI Distribution endpoints of one registry.
 * Every call takes an AbortSignal; listings are async iterators that follow pagination;
 * every manifest and blob read is digest-verified.
 */
import type { Transform } from "node:stream";
import { repositoryScope, type Scope } from "../auth/scope.js";
import { digestOf, parseDigest, isDigest } from "../digest/digest.js";
import { DigestMismatchError, ProtocolError, RegistryError, UnexpectedMediaTypeError } from "../errors.js";
import { allHeaders, type HttpClient, type HttpResponse } from "../http/transport.js";
import { isIndex, parseManifest, referrerDescriptor, subjectOf, withReferrer, type Manifest } from "../media/manifest.js";
import { isManifestMediaType, MANIFEST_MEDIA_TYPES, MediaType, type Descriptor } from "../media/types.js";
import { MANIFEST_SIZE_LIMIT, MAX_PAGES } from "../util/limits.js";
import * as blobs from "./blobs.js";
import type { BlobReadOptions } from "./blobs.js";
import { untagPlaceholder } from "./placeholder.js";
import { mediaTypeOf, RegistrySession, sendDelete, type RegistryClientOptions, type RequestOptions } from "./session.js";
import { uploadBlob, type BlobSource, type BlobUploadOptions, type BlobUploadResult } from "./uploads.js";
import { nextLink } from "./link.js";
import { referrersTag } from "./referrers.js";

export type { BlobReadOptions, RegistryClientOptions, RequestOptions };

export interface ListOptions extends RequestOptions {
  /** Ask for pages of this many entries (`n`); the server may cap it. */
  pageSize?: number;
  /** Start after this entry (`last`). */
  last?: string;
}

export interface ManifestRequestOptions extends RequestOptions {
  /** Accept only these media types; a server answering with another is an error. Default: all manifest types. */
  accept?: readonly string[];
}

export interface PingResult {
  status: number;
  apiVersion: string | undefined;
  /** The auth schemes the registry challenged with on /v2/ (lower case), empty if anonymous access is allowed. */
  authSchemes: string[];
  url: string;
}

export class RegistryClient {
  /** The session all requests go through: private, so no raw, unverified requests through the public API. */
  readonly #session: RegistrySession;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.#session = new RegistrySession(registry, options);
  }

  /** The registry as the user names it: "docker.io", "localhost:5000". */
  get registry(): string {
    return this.#session.registry;
  }

  /** The host spoken to: "registry-1.docker.io" for Docker Hub. */
  get apiHost(): string {
    return this.#session.apiHost;
  }

  get http(): HttpClient {
    return this.#session.http;
  }

  /** The base URL in use: https unless plain HTTP was asked for or a loopback registry turned out not to speak TLS. */
  get baseUrl(): string {
    return this.#session.baseUrl;
  }

  close(): Promise<void> {
    return this.#session.close();
  }

  // ---- base ------------------------------------------------------------------------------

  /** GET /v2/: is this a registry, which API version, which auth. Does not authenticate. */
  async ping(options: RequestOptions = {}): Promise<PingResult> {
    const response = await this.#session.send({ method: "GET", path: "/v2/", scopes: [], expect: [200, 401], anonymous: true, signal: options.signal });
    await response.dump();
    const schemes = response.status === 401 ? allHeaders(response.headers, "www-authenticate").map((h) => h.trim().split(/\s/)[0]?.toLowerCase() ?? "") : [];
    return { status: response.status, apiVersion: response.header("docker-distribution-api-version"), authSchemes: schemes, url: response.url };
  }

  /** GET /v2/ with credentials: succeeds only if the registry accepts them. */
  async checkAuth(options: RequestOptions = {}): Promise<void> {
    const response = await this.#session.send({ method: "GET", path: "/v2/", scopes: [], expect: [200], signal: options.signal });
    await response.dump();
  }

  // ---- listings --------------------------------------------------------------------------

  /** Every repository name in the catalog, following pagination. */
  catalog(options: ListOptions = {}): AsyncIterable<string> {
    return this.paginate("/v2/_catalog", "repositories", [{ type: "registry", name: "catalog", actions: ["*"] }], options);
  }

  /** Every tag of a repository, following pagination. */
  tags(repository: string, options: ListOptions = {}): AsyncIterable<string> {
    return this.paginate(`/v2/${repository}/tags/list`, "tags", [repositoryScope(repository, "pull")], options);
  }

  private async *paginate(path: string, field: "repositories" | "tags", scopes: readonly Scope[], options: ListOptions): AsyncIterable<string> {
    let pageSize = options.pageSize;
    const first = new URLSearchParams();
    if (pageSize !== undefined) first.set("n", String(pageSize));
    if (options.last !== undefined) first.set("last", options.last);
    let next: string | undefined = first.size > 0 ? `${path}?${first}` : path;
    const visited = new Set<string>();
    const seen = new Set<string>();
    for (let page = 0; next !== undefined; page++) {
      if (page >= MAX_PAGES) throw new ProtocolError(`${path}: more than ${MAX_PAGES} pages`);
      const url = this.#session.resolve(next).toString();
      if (visited.has(url)) throw new ProtocolError(`${path}: pagination loops back to ${url}`);
      visited.add(url);
      let response: HttpResponse;
      try {
        response = await this.#session.send({ method: "GET", path: next, scopes, expect: [200], signal: options.signal });
      } catch (err) {
        // distribution refuses an `n` above its catalog.maxentries: fall back to the server's own page size.
        if (!(err instanceof RegistryError && err.code === "PAGINATION_NUMBER_INVALID" && pageSize !== undefined)) throw err;
        pageSize = undefined;
        next = withoutPageSize(next);
        visited.delete(url);
        continue;
      }
      const entries = readListPage(await response.json(), field, url);
      for (const entry of entries) {
        // A registry that resends an entry across pages must not make us report it twice.
        if (seen.has(entry)) continue;
        seen.add(entry);
        yield entry;
      }
      // RFC 8288: a relative target is relative to the page that carried it, not to the registry root.
      const link = nextLink(allHeaders(response.headers, "link"));
      next = link === undefined ? undefined : resolveLink(link, url);
      // No Link but a full page of the size we asked for: ask for what comes after the last entry.
      if (next === undefined && pageSize !== undefined && entries.length === pageSize && entries.length > 0) {
        next = `${path}?${new URLSearchParams({ n: String(pageSize), last: entries[entries.length - 1] ?? "" })}`;
      }
    }
  }

  // ---- manifests -------------------------------------------------------------------------

  /** GET a manifest by tag or digest. The bytes are kept exactly as served and digest-checked. */
  async getManifest(repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Manifest> {
    const accept = options.accept ?? MANIFEST_MEDIA_TYPES;
    const response = await this.#session.send({
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
      throw new UnexpectedMediaTypeError(options.accept, manifest.mediaType);
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
  async getManifestPreferring(repository: string, reference: string, preference: readonly string[], options: RequestOptions = {}): Promise<Manifest> {
    let notFound: unknown;
    const served: string[] = [];
    for (const mediaType of preference) {
      try {
        return await this.getManifest(repository, reference, { ...options, accept: [mediaType] });
      } catch (err) {
        if (err instanceof UnexpectedMediaTypeError) served.push(err.actual);
        else if (err instanceof RegistryError && err.category === "not-found") notFound ??= err;
        else throw err;
      }
    }
    if (served.length === 0 && notFound !== undefined) throw notFound;
    throw new UnexpectedMediaTypeError(preference, served.join(", "));
  }

  /** HEAD a manifest: its descriptor (digest, media type, size) without the body. */
  async headManifest(repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Descriptor> {
    const accept = options.accept ?? MANIFEST_MEDIA_TYPES;
    const response = await this.#session.send({
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
      const manifest = await this.getManifest(repository, reference, options);
      return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    }
    if (isDigest(reference) && parseDigest(reference).algorithm === parseDigest(digest).algorithm && reference !== digest) {
      throw new DigestMismatchError(reference, digest, `manifest ${repository}@${reference}`);
    }
    return { mediaType, digest, size };
  }

  // ---- blobs -----------------------------------------------------------------------------

  /** HEAD a blob: its size. Throws a not-found RegistryError if absent. */
  headBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<Descriptor> {
    return blobs.headBlob(this.#session, repository, digest, options);
  }

  blobExists(repository: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    return blobs.blobExists(this.#session, repository, digest, options);
  }

  /**
   * Stream a blob. The stream errors (DigestMismatchError / SizeMismatchError) instead of
   * ending if the bytes are not the ones asked for; a dropped connection is resumed with Range.
   */
  getBlob(repository: string, digest: string, options: BlobReadOptions = {}): Promise<Transform> {
    return blobs.getBlob(this.#session, repository, digest, options);
  }

  /** A whole (small) blob in memory, verified: configs and the like. */
  getBlobBytes(repository: string, digest: string, options: BlobReadOptions & { limit?: number } = {}): Promise<Uint8Array> {
    return blobs.getBlobBytes(this.#session, repository, digest, options);
  }

  // ---- referrers -------------------------------------------------------------------------

  /**
   * OCI 1.1 referrers of a manifest (signatures, SBOMs, attestations): the registry's referrers
   * API, or, where it has none, the fallback index tagged `<alg>-<hex>`. Filtered by artifactType.
   */
  async referrers(repository: string, digest: string, options: RequestOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
    parseDigest(digest);
    const query = options.artifactType !== undefined ? `?${new URLSearchParams({ artifactType: options.artifactType })}` : "";
    const response = await this.#session.send({
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
      entries = await this.fallbackReferrers(repository, referrersTag(digest), options);
    }
    return options.artifactType === undefined ? entries : entries.filter((d) => d.artifactType === options.artifactType);
  }

  private async fallbackReferrers(repository: string, tag: string, options: RequestOptions): Promise<Descriptor[]> {
    try {
      const index = await this.getManifest(repository, tag, { ...options, accept: [MediaType.OciIndex] });
      return isIndex(index) ? index.manifests : [];
    } catch (err) {
      if (err instanceof RegistryError && err.category === "not-found") return [];
      throw err;
    }
  }

  // ---- writes ----------------------------------------------------------------------------

  /** Upload a blob (see BlobUploadOptions): skipped if present, mounted if possible, else sent. */
  pushBlob(repository: string, source: BlobSource, options: BlobUploadOptions = {}): Promise<BlobUploadResult> {
    return uploadBlob(this.#session, repository, source, options);
  }

  /** Cross-repository mount of one blob; resolves false (and opens no upload) when the registry declines. */
  mountBlob(repository: string, from: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    return blobs.mountBlob(this.#session, repository, from, digest, options);
  }

  /**
   * PUT exact manifest bytes under a tag or digest, with the Content-Type of the manifest's own
   * media type (detected by shape when absent). The digest the server answers is checked.
   */
  async putManifest(repository: string, reference: string, bytes: Uint8Array, options: RequestOptions & { mediaType?: string } = {}): Promise<Descriptor> {
    const manifest = parseManifest(bytes, options.mediaType);
    if (isDigest(reference) && reference !== manifest.digest) throw new DigestMismatchError(reference, manifest.digest, `manifest to put at ${repository}@${reference}`);
    const response = await this.#session.send({
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
    // A registry with the referrers API says so with OCI-Subject; without it, OCI 1.1 asks the client to list the referrer itself.
    const subject = subjectOf(manifest);
    if (subject !== undefined && response.header("oci-subject") === undefined) await this.addToReferrersTag(repository, subject.digest, referrerDescriptor(manifest, bytes.length), options);
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: bytes.length };
  }

  /** Add a referrer to the `<alg>-<hex>` index of its subject (made if missing). Not safe against a concurrent update of the same index. */
  private async addToReferrersTag(repository: string, subjectDigest: string, referrer: Descriptor, options: RequestOptions): Promise<void> {
    const tag = referrersTag(subjectDigest);
    let index: { manifests?: unknown[] } & Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    try {
      const existing = await this.getManifest(repository, tag, { ...options, accept: [MediaType.OciIndex] });
      index = JSON.parse(Buffer.from(existing.bytes).toString("utf8")) as { manifests?: unknown[] } & Record<string, unknown>;
    } catch (err) {
      if (!(err instanceof RegistryError && err.category === "not-found")) throw err;
    }
    const updated = withReferrer(index, referrer);
    if (updated !== undefined) await this.putManifest(repository, tag, Buffer.from(JSON.stringify(updated)), { ...options, mediaType: MediaType.OciIndex });
  }

  /** DELETE a manifest by digest: every tag pointing at it goes with it. */
  async deleteManifest(repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
    parseDigest(digest);
    await sendDelete(this.#session, `/v2/${repository}/manifests/${digest}`, repository, options);
  }

  deleteBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
    return blobs.deleteBlob(this.#session, repository, digest, options);
  }

  /**
   * Delete what a tag points at: resolves the tag to its digest, then deletes the manifest.
   * EVERY tag on that manifest disappears with it (use untag() to remove just one).
   */
  async deleteTag(repository: string, tag: string, options: RequestOptions = {}): Promise<Descriptor> {
    const descriptor = await this.headManifest(repository, tag, options);
    await this.deleteManifest(repository, descriptor.digest, options);
    return descriptor;
  }

  /**
   * Remove ONE tag and leave the manifest and its other tags alone: DELETE by tag where the
   * registry allows it (OCI 1.1), else point the tag at a unique placeholder manifest and
   * delete that by digest.
   */
  async untag(repository: string, tag: string, options: RequestOptions = {}): Promise<{ method: "tag-delete" | "placeholder"; digest: string }> {
    const current = await this.headManifest(repository, tag, options);
    if (this.#session.capabilities.tagDelete !== false) {
      try {
        await sendDelete(this.#session, `/v2/${repository}/manifests/${tag}`, repository, options);
        this.#session.capabilities.tagDelete = true;
        return { method: "tag-delete", digest: current.digest };
      } catch (err) {
        // distribution 2.8 answers DIGEST_INVALID (or 404/405 elsewhere) for a tag; anything else is real.
        if (!(err instanceof RegistryError) || ![400, 404, 405].includes(err.status)) throw err;
        this.#session.capabilities.tagDelete = false;
      }
    }
    const original = await this.getManifest(repository, current.digest, options);
    const { config, manifest } = untagPlaceholder(repository, tag);
    await this.pushBlob(repository, config, { mediaType: MediaType.OciEmpty, ...options });
    const placeholder = await this.putManifest(repository, tag, manifest, options);
    try {
      await this.deleteManifest(repository, placeholder.digest, options);
    } catch (err) {
      // Deletes refused (disabled, or no delete permission): put the tag back where it was.
      await this.putManifest(repository, tag, original.bytes, { ...options, mediaType: original.mediaType });
      throw err;
    }
    return { method: "placeholder", digest: current.digest };
  }
}

function withoutPageSize(pathAndQuery: string): string {
  const url = new URL(pathAndQuery, "http://placeholder");
  url.searchParams.delete("n");
  return url.search === "" ? url.pathname : `${url.pathname}${url.search}`;
}

function readListPage(body: unknown, field: "repositories" | "tags", url: string): string[] {
  if (typeof body !== "object" || body === null) throw new ProtocolError(`${url}: listing is not a JSON object`);
  const list = (body as Record<string, unknown>)[field];
  // Registries answer `"tags": null` for a repository without tags.
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list) || !list.every((e): e is string => typeof e === "string")) {
    throw new ProtocolError(`${url}: "${field}" is not a list of strings`);
  }
  return list;
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


function resolveLink(link: string, page: string): string {
  try {
    return new URL(link, page).toString();
  } catch (err) {
    throw new ProtocolError(`${page}: Link header target ${JSON.stringify(link)} is not a URL`, { cause: err });
  }
}
