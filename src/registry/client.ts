/**
 * RegistryClient: the Docker Registry HTTP API v2 / OCI Distribution endpoints of one registry.
 * Every call takes an AbortSignal; listings are async iterators that follow pagination;
 * every manifest and blob read is digest-verified.
 */
import { Readable, type Transform } from "node:stream";
import { Authenticator } from "../auth/authenticator.js";
import { DockerConfigCredentials, staticCredentials, type Credential, type CredentialSource } from "../auth/credentials.js";
import { repositoryScope, type Scope } from "../auth/scope.js";
import { createVerifyingStream, digestOf, parseDigest, isDigest } from "../digest/digest.js";
import { DigestMismatchError, InsecureRequestError, NetworkError, ProtocolError, RegistryError, UnexpectedMediaTypeError } from "../errors.js";
import { hostnameOf, isLoopbackHost, portOf } from "../http/hosts.js";
import { probeTls } from "../http/tls-probe.js";
import { allHeaders, HttpClient, type HttpClientOptions, type HttpResponse, type RequestBody } from "../http/transport.js";
import { isIndex, parseManifest, referrerDescriptor, subjectOf, withReferrer, type Manifest } from "../media/manifest.js";
import { isManifestMediaType, MANIFEST_MEDIA_TYPES, MediaType, normalizeMediaType, type Descriptor } from "../media/types.js";
import { registryApiHost } from "../ref/reference.js";
import { readAll } from "../util/read-all.js";
import { pipeResumable } from "./blob-stream.js";
import { registryError } from "./errors.js";
import { untagPlaceholder } from "./placeholder.js";
import { uploadBlob, type BlobSource, type BlobUploadOptions, type BlobUploadResult } from "./upload.js";
import { nextLink } from "./link.js";
import { referrersTag } from "./referrers.js";

export interface RegistryClientOptions extends HttpClientOptions {
  /** Talk plain HTTP. Also allows credentials over it: the user asked. */
  plainHttp?: boolean;
  /** Credentials to use; by default they come from Docker's config.json. */
  credentials?: Credential | CredentialSource;
  /** Read ~/.docker/config.json (or $DOCKER_CONFIG) when no credentials are given. Default true. */
  dockerConfig?: boolean;
  /** Exchange basic credentials for tokens with the OAuth2 POST flow. */
  oauth2?: boolean;
  /** Share an HTTP stack (and its pools) between clients. */
  http?: HttpClient;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

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

export interface BlobReadOptions extends RequestOptions {
  expectedSize?: number;
  /** Called with the running byte count as data arrives. */
  onProgress?: (bytes: number) => void;
  /** How many times a dropped connection is resumed with a Range request. Default 3. */
  resumeAttempts?: number;
}

export interface PingResult {
  status: number;
  apiVersion: string | undefined;
  /** The auth schemes the registry challenged with on /v2/ (lower case), empty if anonymous access is allowed. */
  authSchemes: string[];
  url: string;
}

export interface RegistryRequest extends RequestOptions {
  method: string;
  /** A path under the registry root ("/v2/..."), or an absolute URL on the same registry (pagination, upload locations). */
  path: string;
  scopes: readonly Scope[];
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Statuses that count as success; anything else becomes a RegistryError. */
  expect: readonly number[];
  /** Send no credentials and answer no challenge (ping). */
  anonymous?: boolean;
}

const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;
const MAX_PAGES = 100_000;

export class RegistryClient {
  /** The registry as the user names it: "docker.io", "localhost:5000". */
  readonly registry: string;
  /** The host spoken to: "registry-1.docker.io" for Docker Hub. */
  readonly apiHost: string;
  readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly auth: Authenticator;
  private scheme: "https" | "http" | undefined;
  /** A loopback registry's scheme, learned once by a TLS probe before its first request. */
  private schemeProbe: Promise<void> | undefined;
  /** What this registry turned out to support, learned as we go. */
  readonly capabilities: { monolithicPost?: boolean; tagDelete?: boolean } = {};

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.apiHost = registryApiHost(registry);
    this.http = options.http ?? new HttpClient(options);
    this.ownsHttp = options.http === undefined;
    this.scheme = options.plainHttp ? "http" : undefined;
    this.auth = new Authenticator({
      registry,
      http: this.http,
      credentials: credentialSource(options),
      allowInsecureCredentials: options.plainHttp === true,
      ...(options.oauth2 !== undefined ? { oauth2: options.oauth2 } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }

  /** The base URL in use: https unless plain HTTP was asked for or a loopback registry turned out not to speak TLS. */
  get baseUrl(): string {
    return `${this.scheme ?? "https"}://${this.apiHost}`;
  }

  // ---- the one request path: scheme, auth, errors ------------------------------------------

  async send(req: RegistryRequest): Promise<HttpResponse> {
    if (this.scheme === undefined && isLoopbackHost(this.apiHost)) await this.probeScheme();
    for (;;) {
      const url = this.resolve(req.path);
      try {
        const response = await this.sendAuthorized(url, req);
        this.scheme ??= url.protocol === "http:" ? "http" : "https";
        if (!req.expect.includes(response.status)) throw await registryError(response, req.method);
        return response;
      } catch (err) {
        // Docker's rule for loopback registries: if one does not speak TLS, use plain HTTP.
        // (Concurrent first requests may all fail this way: each retries once on plain HTTP.)
        if (this.scheme !== "https" && url.protocol === "https:" && isLoopbackHost(this.apiHost) && err instanceof NetworkError && err.code === "TLS_NOT_SUPPORTED") {
          this.scheme = "http";
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Docker's rule for loopback registries (TLS if spoken, else plain HTTP), decided by one probe
   * shared by concurrent first requests. An inconclusive probe leaves it to the first request.
   */
  private probeScheme(): Promise<void> {
    this.schemeProbe ??= probeTls(hostnameOf(this.apiHost), portOf(this.apiHost, 443)).then((result) => {
      if (this.scheme === undefined && result !== "unknown") this.scheme = result === "tls" ? "https" : "http";
    });
    return this.schemeProbe;
  }

  private async sendAuthorized(url: URL, req: RegistryRequest): Promise<HttpResponse> {
    const send = async (authorization: string | undefined): Promise<HttpResponse> => {
      const response = await this.http.request({
        method: req.method,
        url,
        headers: authorization ? { ...req.headers, authorization } : { ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: req.signal,
      });
      // After a redirect, a 401 may be a CDN's: never answered with the registry's credentials.
      if (response.status === 401) await this.auth.assertRegistryChallenge(url, response);
      return response;
    };
    if (req.anonymous) return send(undefined);
    const sent = await this.auth.headerFor(url, req.scopes, req.signal);
    const response = await send(sent);
    const replayable = !(req.body instanceof Readable);
    if (response.status !== 401 || !replayable) return response;
    const next = await this.auth.afterUnauthorized(url, allHeaders(response.headers, "www-authenticate"), req.scopes, sent, req.signal);
    if (next === undefined) return response;
    await response.dump();
    return send(next);
  }

  /** Absolute URLs (from Link or Location headers) must stay on this registry: credentials never follow them elsewhere. */
  private resolve(path: string): URL {
    const base = new URL(this.baseUrl);
    const url = new URL(path, base);
    if (url.host !== base.host) {
      throw new InsecureRequestError(`registry ${this.registry} pointed to another host (${url.host}); not following`);
    }
    if (url.protocol !== base.protocol) url.protocol = base.protocol;
    return url;
  }

  // ---- base ------------------------------------------------------------------------------

  /** GET /v2/: is this a registry, which API version, which auth. Does not authenticate. */
  async ping(options: RequestOptions = {}): Promise<PingResult> {
    const response = await this.send({ method: "GET", path: "/v2/", scopes: [], expect: [200, 401], anonymous: true, signal: options.signal });
    await response.dump();
    const schemes = response.status === 401 ? allHeaders(response.headers, "www-authenticate").map((h) => h.trim().split(/\s/)[0]?.toLowerCase() ?? "") : [];
    return { status: response.status, apiVersion: response.header("docker-distribution-api-version"), authSchemes: schemes, url: response.url };
  }

  /** GET /v2/ with credentials: succeeds only if the registry accepts them. */
  async checkAuth(options: RequestOptions = {}): Promise<void> {
    const response = await this.send({ method: "GET", path: "/v2/", scopes: [], expect: [200], signal: options.signal });
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
      const url = this.resolve(next).toString();
      if (visited.has(url)) throw new ProtocolError(`${path}: pagination loops back to ${url}`);
      visited.add(url);
      let response: HttpResponse;
      try {
        response = await this.send({ method: "GET", path: next, scopes, expect: [200], signal: options.signal });
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
    const response = await this.send({
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
    const response = await this.send({
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
  async headBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<Descriptor> {
    parseDigest(digest);
    const response = await this.send({
      method: "HEAD",
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [repositoryScope(repository, "pull")],
      expect: [200],
      signal: options.signal,
    });
    await response.dump();
    const size = Number(response.header("content-length"));
    if (!Number.isSafeInteger(size) || size < 0) throw new ProtocolError(`HEAD blob ${digest}: no valid Content-Length`);
    return { mediaType: mediaTypeOf(response.header("content-type")) ?? "application/octet-stream", digest, size };
  }

  async blobExists(repository: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    try {
      await this.headBlob(repository, digest, options);
      return true;
    } catch (err) {
      if (err instanceof Error && "category" in err && err.category === "not-found") return false;
      throw err;
    }
  }

  /**
   * Stream a blob. The stream errors (DigestMismatchError / SizeMismatchError) instead of
   * ending if the bytes are not the ones asked for; a dropped connection is resumed with Range.
   */
  async getBlob(repository: string, digest: string, options: BlobReadOptions = {}): Promise<Transform> {
    parseDigest(digest);
    const request = (offset: number) =>
      this.send({
        method: "GET",
        path: `/v2/${repository}/blobs/${digest}`,
        scopes: [repositoryScope(repository, "pull")],
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        expect: offset > 0 ? [200, 206] : [200],
        signal: options.signal,
      });
    const first = await request(0);
    const verifier = createVerifyingStream(digest, {
      what: `blob ${repository}@${digest}`,
      ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
    });
    pipeResumable(first, request, verifier, { signal: options.signal, onProgress: options.onProgress, resumeAttempts: options.resumeAttempts ?? 3 });
    return verifier;
  }

  /** A whole (small) blob in memory, verified: configs and the like. */
  async getBlobBytes(repository: string, digest: string, options: BlobReadOptions & { limit?: number } = {}): Promise<Uint8Array> {
    const stream = await this.getBlob(repository, digest, options);
    return readAll(stream, options.limit ?? MANIFEST_SIZE_LIMIT * 4, `blob ${repository}@${digest}`);
  }

  // ---- referrers -------------------------------------------------------------------------

  /**
   * OCI 1.1 referrers of a manifest (signatures, SBOMs, attestations): the registry's referrers
   * API, or, where it has none, the fallback index tagged `<alg>-<hex>`. Filtered by artifactType.
   */
  async referrers(repository: string, digest: string, options: RequestOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
    parseDigest(digest);
    const query = options.artifactType !== undefined ? `?${new URLSearchParams({ artifactType: options.artifactType })}` : "";
    const response = await this.send({
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
    return uploadBlob(this, repository, source, options);
  }

  /** Cross-repository mount of one blob; resolves false (and opens no upload) when the registry declines. */
  async mountBlob(repository: string, from: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    const scopes = [repositoryScope(repository, "pull", "push"), repositoryScope(from, "pull")];
    const query = new URLSearchParams({ mount: digest, from });
    const response = await this.send({ method: "POST", path: `/v2/${repository}/blobs/uploads/?${query}`, scopes, expect: [201, 202], signal: options.signal });
    await response.dump();
    if (response.status === 201) return true;
    // 202 opened an upload session we will not use: cancel it so it does not linger.
    const location = response.header("location");
    if (location) await this.send({ method: "DELETE", path: location, scopes, expect: [204, 404], signal: options.signal }).then((r) => r.dump(), () => undefined);
    return false;
  }

  /**
   * PUT exact manifest bytes under a tag or digest, with the Content-Type of the manifest's own
   * media type (detected by shape when absent). The digest the server answers is checked.
   */
  async putManifest(repository: string, reference: string, bytes: Uint8Array, options: RequestOptions & { mediaType?: string } = {}): Promise<Descriptor> {
    const manifest = parseManifest(bytes, options.mediaType);
    if (isDigest(reference) && reference !== manifest.digest) throw new DigestMismatchError(reference, manifest.digest, `manifest to put at ${repository}@${reference}`);
    const response = await this.send({
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
    await this.deleteAt(`/v2/${repository}/manifests/${digest}`, repository, options);
  }

  async deleteBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
    parseDigest(digest);
    await this.deleteAt(`/v2/${repository}/blobs/${digest}`, repository, options);
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
    if (this.capabilities.tagDelete !== false) {
      try {
        await this.deleteAt(`/v2/${repository}/manifests/${tag}`, repository, options);
        this.capabilities.tagDelete = true;
        return { method: "tag-delete", digest: current.digest };
      } catch (err) {
        // distribution 2.8 answers DIGEST_INVALID (or 404/405 elsewhere) for a tag; anything else is real.
        if (!(err instanceof RegistryError) || ![400, 404, 405].includes(err.status)) throw err;
        this.capabilities.tagDelete = false;
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

  private async deleteAt(path: string, repository: string, options: RequestOptions): Promise<void> {
    try {
      const response = await this.send({ method: "DELETE", path, scopes: [repositoryScope(repository, "delete")], expect: [202, 200, 204], signal: options.signal });
      await response.dump();
    } catch (err) {
      if (err instanceof RegistryError && (err.status === 405 || err.code === "UNSUPPORTED")) {
        throw new RegistryError(err.status, err.request, err.errors, "this registry has deletes disabled (distribution: storage.delete.enabled)");
      }
      throw err;
    }
  }
}

function credentialSource(options: RegistryClientOptions): CredentialSource | undefined {
  const given = options.credentials;
  if (given !== undefined) return "get" in given ? given : staticCredentials(given);
  return options.dockerConfig === false ? undefined : new DockerConfigCredentials();
}

/** "application/json; charset=utf-8" -> "application/json"; undefined when absent or empty. */
function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType === undefined ? "" : normalizeMediaType(contentType);
  return type === "" ? undefined : type;
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
