/**
 * RegistryClient: the Docker Registry HTTP API v2 / OCI Distribution endpoints of one registry.
 * Every call takes an AbortSignal; listings are async iterators that follow pagination;
 * every manifest and blob read is digest-verified.
 *
 * A thin class: each method is one endpoint-family function over the client's request session,
 * which stays private (no raw, unverified requests through the public API).
 */
import type { Transform } from "node:stream";
import type { HttpClient } from "../http/transport.js";
import type { Manifest } from "../media/manifest.js";
import type { Descriptor } from "../media/types.js";
import * as blobs from "./blobs.js";
import type { BlobReadOptions } from "./blobs.js";
import * as manifests from "./manifests.js";
import type { ManifestRequestOptions } from "./manifests.js";
import * as pagination from "./pagination.js";
import type { ListOptions } from "./pagination.js";
import * as base from "./ping.js";
import type { PingResult } from "./ping.js";
import * as referrersApi from "./referrers.js";
import { RegistrySession, type RegistryClientOptions, type RequestOptions } from "./session.js";
import * as untagging from "./untag.js";
import type { UntagResult } from "./untag.js";
import { uploadBlob, type BlobSource, type BlobUploadOptions, type BlobUploadResult } from "./uploads.js";

export type { BlobReadOptions, ListOptions, ManifestRequestOptions, PingResult, RegistryClientOptions, RequestOptions, UntagResult };

export class RegistryClient {
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
  ping(options: RequestOptions = {}): Promise<PingResult> {
    return base.ping(this.#session, options);
  }

  /** GET /v2/ with credentials: succeeds only if the registry accepts them. */
  checkAuth(options: RequestOptions = {}): Promise<void> {
    return base.checkAuth(this.#session, options);
  }

  // ---- listings --------------------------------------------------------------------------

  /** Every repository name in the catalog, following pagination. */
  catalog(options: ListOptions = {}): AsyncIterable<string> {
    return pagination.catalog(this.#session, options);
  }

  /** Every tag of a repository, following pagination. */
  tags(repository: string, options: ListOptions = {}): AsyncIterable<string> {
    return pagination.tags(this.#session, repository, options);
  }

  // ---- manifests -------------------------------------------------------------------------

  /** GET a manifest by tag or digest. The bytes are kept exactly as served and digest-checked. */
  getManifest(repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Manifest> {
    return manifests.getManifest(this.#session, repository, reference, options);
  }

  /** Ask for each media type in turn; the first answer of exactly the type asked for (pubtools-quay's preference mode). */
  getManifestPreferring(repository: string, reference: string, preference: readonly string[], options: RequestOptions = {}): Promise<Manifest> {
    return manifests.getManifestPreferring(this.#session, repository, reference, preference, options);
  }

  /** HEAD a manifest: its descriptor (digest, media type, size) without the body. */
  headManifest(repository: string, reference: string, options: ManifestRequestOptions = {}): Promise<Descriptor> {
    return manifests.headManifest(this.#session, repository, reference, options);
  }

  /**
   * PUT exact manifest bytes under a tag or digest, with the Content-Type of the manifest's own
   * media type (detected by shape when absent). The digest the server answers is checked; a
   * manifest with a subject is listed in the fallback referrers index where the registry needs it.
   */
  putManifest(repository: string, reference: string, bytes: Uint8Array, options: RequestOptions & { mediaType?: string } = {}): Promise<Descriptor> {
    return referrersApi.putManifestListingReferrer(this.#session, repository, reference, bytes, options);
  }

  /** DELETE a manifest by digest: every tag pointing at it goes with it. */
  deleteManifest(repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
    return manifests.deleteManifest(this.#session, repository, digest, options);
  }

  /**
   * Delete what a tag points at: resolves the tag to its digest, then deletes the manifest.
   * EVERY tag on that manifest disappears with it (use untag() to remove just one).
   */
  deleteTag(repository: string, tag: string, options: RequestOptions = {}): Promise<Descriptor> {
    return manifests.deleteTag(this.#session, repository, tag, options);
  }

  /**
   * Remove ONE tag and leave the manifest and its other tags alone: DELETE by tag where the
   * registry allows it (OCI 1.1), else point the tag at a unique placeholder manifest and
   * delete that by digest.
   */
  untag(repository: string, tag: string, options: RequestOptions = {}): Promise<UntagResult> {
    return untagging.untag(this.#session, repository, tag, options);
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

  /** Upload a blob (see BlobUploadOptions): skipped if present, mounted if possible, else sent. */
  pushBlob(repository: string, source: BlobSource, options: BlobUploadOptions = {}): Promise<BlobUploadResult> {
    return uploadBlob(this.#session, repository, source, options);
  }

  /** Cross-repository mount of one blob; resolves false (and opens no upload) when the registry declines. */
  mountBlob(repository: string, from: string, digest: string, options: RequestOptions = {}): Promise<boolean> {
    return blobs.mountBlob(this.#session, repository, from, digest, options);
  }

  deleteBlob(repository: string, digest: string, options: RequestOptions = {}): Promise<void> {
    return blobs.deleteBlob(this.#session, repository, digest, options);
  }

  // ---- referrers -------------------------------------------------------------------------

  /**
   * OCI 1.1 referrers of a manifest (signatures, SBOMs, attestations): the registry's referrers
   * API, or, where it has none, the fallback index tagged `<alg>-<hex>`. Filtered by artifactType.
   */
  referrers(repository: string, digest: string, options: RequestOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
    return referrersApi.referrers(this.#session, repository, digest, options);
  }
}
