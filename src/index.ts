/** quayside's public API. */
export * from "./errors.js";
export { Reference, parseReference, parseExplicitReference, parseRepository, registryApiHost, isValidTag, DOCKER_HUB } from "./ref/reference.js";
export { parsePlatform, parsePlatformList, formatPlatform, normalizePlatform, hostPlatform, platformMatches, selectPlatform } from "./ref/platform.js";
export { parseDigest, isDigest, digestOf, DigestHasher, verifyDigest, createVerifyingStream, type DigestAlgorithm, type ParsedDigest } from "./digest/digest.js";
export {
  MediaType,
  MANIFEST_MEDIA_TYPES,
  isManifestMediaType,
  isIndexMediaType,
  normalizeMediaType,
  type Descriptor,
  type Platform,
} from "./media/types.js";
export {
  parseManifest,
  parseImageConfig,
  manifestDigest,
  isIndex,
  isImage,
  referencedDescriptors,
  type Manifest,
  type ImageManifest,
  type IndexManifest,
  type DockerV1Manifest,
  type DockerV2Manifest,
  type DockerManifestList,
  type OciManifest,
  type OciIndex,
  type ImageConfig,
} from "./media/manifest.js";
export { HttpClient, DEFAULT_TIMEOUT_MS, type HttpClientOptions, type TlsOptions, type HttpRequest, type HttpResponse, type RetryNotice } from "./http/transport.js";
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./http/retry.js";
export { parseChallenges, type Challenge } from "./auth/challenge.js";
export { DockerConfigCredentials, dockerConfigPath, staticCredentials, type Credential, type CredentialSource } from "./auth/credentials.js";
export { TokenCache, fetchToken, type BearerToken } from "./auth/token.js";
export { formatScope, parseScope, repositoryScope, type Scope } from "./auth/scope.js";
export {
  RegistryClient,
  type RegistryClientOptions,
  type RequestOptions,
  type ListOptions,
  type ManifestRequestOptions,
  type BlobReadOptions,
  type PingResult,
} from "./registry/client.js";
export { Registry, Repository, Image, openReference, type ResolveOptions, type LayerInfo } from "./image/image.js";
export { summarize, type InspectSummary, type ImageSummary, type IndexSummary, type Schema1Summary } from "./image/inspect.js";
export { writeStreamAtomic } from "./util/atomic-file.js";
export { RegistryStore } from "./store/registry-store.js";
export { OciLayoutStore, parseOciLocation, InvalidLayoutError, REF_NAME_ANNOTATION, isValidLayoutTag, type OciLocation, type LayoutEntry, type OpenLayoutOptions } from "./store/oci-layout.js";
export {
  fetchBytes,
  requireCapability,
  canMount,
  type Store,
  type StoreCapabilities,
  type StoreCapability,
  type StoreOptions,
  type ResolveOptions as StoreResolveOptions,
  type TagListOptions,
  type PushOptions,
  type PushContent,
} from "./store/store.js";
export { openLocation, parseLocation, type Location, type OpenedLocation, type OpenLocationOptions, type Role } from "./store/locations.js";
export { MemoryStore, MemoryDomain, type MemoryStoreOptions, type MemoryFaults, type MemoryCall, type MemoryOp } from "./store/memory.js";
export { copyImage, type CopyOptions, type CopyResult, type CopyEvent, type BlobOutcome } from "./copy/copy.js";
export { checkImage, type CheckResult } from "./copy/check.js";
export { planGraph, type Plan, type ManifestNode, type GraphOptions } from "./copy/graph.js";
export { type BlobSource, type BlobUploadOptions, type BlobUploadResult, type UploadOutcome } from "./registry/uploads.js";
export { saveDockerCredential, removeDockerCredential, configKeyFor } from "./auth/credentials.js";
export { resolveCredentials, containersAuthPaths, defaultAuthFiles, type CredentialOptions } from "./auth/sources.js";
export { DockerArchiveStore, parseArchiveLocation, type ArchiveLocation, type ArchiveImageInfo, type CreateArchiveOptions } from "./store/docker-archive.js";

// The operations layer: one call per user-facing operation (what the CLI does, a library user can do).
export { ClientPool, type ClientPoolOptions, type OperationOptions } from "./ops/pool.js";
export {
  ping,
  listCatalog,
  listTags,
  getManifest,
  getDigest,
  getConfig,
  inspect,
  type PlatformOption,
  type PingReport,
  type ListingOptions,
  type TagListing,
  type ManifestResult,
  type DigestResult,
  type ConfigResult,
} from "./ops/read.js";
export { copy, tag, check, type CopyOperationOptions, type CopyReport, type TagResult, type CheckReport } from "./ops/copy.js";
export { deleteImage, untag, type DeleteResult, type DeleteOptions, type UntagResult } from "./ops/delete.js";
export {
  blobSize,
  pullBlob,
  pushBlob,
  mountBlob,
  deleteBlob,
  sha256File,
  type BlobInfo,
  type BlobTransferOptions,
  type PullBlobResult,
  type PushBlobOptions,
  type PushBlobResult,
  type MountBlobResult,
} from "./ops/blob.js";
export { login, logout, type LoginOptions, type LoginResult, type LogoutResult } from "./ops/login.js";

// Quay: the REST API v1 client and quay:// discovery (plain references with Quay's digests and times).
export {
  QuayClient,
  DEFAULT_QUAY_URL,
  type QuayClientOptions,
  type QuayRequestOptions,
  type QuayRepository,
  type QuayTag,
  type RepositoryListOptions,
  type TagListOptions as QuayTagListOptions,
} from "./quay/client.js";
export { parseQuayUri, parseQuayRepository, parseQuayNamespace, isQuayUri, type QuayUri, type QuayRepositoryName } from "./quay/uri.js";
export { discover as discoverQuayImages, parseShard, inShard, type DiscoveredImage, type DiscoverOptions, type DiscoveryResult, type Shard } from "./quay/discover.js";
export {
  discover as discoverQuay,
  listQuayRepositories,
  listQuayTags,
  deleteQuayTag,
  setQuayTag,
  deleteQuayRepository,
  inspectQuay,
  mirror,
  parseMirrorDestination,
  describeImageError,
  DEFAULT_IMAGE_JOBS,
  type QuayOperationOptions,
  type QuayDiscovery,
  type QuayTagListOptions as QuayTagListingOptions,
  type QuayTagChange,
  type BulkInspectEntry,
  type BulkInspectOptions,
  type MirrorStatus,
  type MirrorEntry,
  type MirrorReport,
  type MirrorOptions,
  type MirrorDestination,
} from "./ops/quay.js";

// Docker schema 1 signatures (libtrust JWS), verified as python-dxf's and dockerreg's verify().
export {
  verifySchema1Signatures,
  libtrustKeyId,
  SCHEMA1_SIGNATURE_ALGORITHMS,
  type Schema1SignatureAlgorithm,
  type Schema1Curve,
  type Schema1Verification,
  type VerifiedSchema1Signature,
  type VerifySchema1Options,
} from "./media/schema1-signature.js";
export { schema1SignatureStatus, type Schema1SignatureStatus, type Schema1SignatureFailureCode } from "./image/inspect.js";
export { verifyManifestSignatures } from "./ops/signature.js";
// python-dxf's blob store with aliases (issue 10): hashing, blobs as verified streams, and aliases
// (tags on schema-2 manifests that list blobs). See docs/migrating.md for dxf's names.
export { hashBytes, hashFile, openBlob, type OpenBlobOptions, type OpenedBlob } from "./ops/blob.js";
export {
  setAlias,
  setAliasManifest,
  getAlias,
  getAliasDigest,
  deleteAlias,
  listAliases,
  pullBlobs,
  blobSizes,
  type BlobSizesResult,
  type PlatformMap,
  type AliasOptions,
  type GetAliasOptions,
  type SetAliasResult,
  type SetAliasManifestResult,
  type DeleteAliasResult,
  type PullBlobsResult,
  type PullBlobsOptions,
} from "./ops/alias.js";
export { buildAliasManifest, aliasBlobs, aliasPlatforms, ALIAS_LAYER_MEDIA_TYPE, ALIAS_CONFIG_MEDIA_TYPE, type AliasBlob } from "./media/alias.js";
// High-level objects as dreg-client has them (Registry -> Repository -> ImageIndex -> Image /
// PlatformImage), the pure parts they rest on, and dockerreg's registry-level helpers.
export { ImageIndex, type RegistryAccess } from "./image/image.js";
export { cleanCreatedBy, imageHistory, newestCreated, runtimeConfig, type HistoryEntry, type PlatformImage } from "./image/details.js";
export { splitRepositoryName, filterCatalog, catalogNamespaces, DEFAULT_NAMESPACE, type CatalogFilter, type RepositoryName } from "./image/catalog.js";
export {
  getImageSize,
  getImageCreated,
  getImageMetadata,
  tagImage,
  deleteTag,
  imageExists,
  pullAndPushImage,
  pullImage,
  pushImage,
  type ImageReadOptions,
  type ImageMetadata,
  type SideAccess,
  type PullAndPushOptions,
  type PullImageOptions,
  type PullImageResult,
  type PushImageOptions,
} from "./ops/images.js";
// pubtools-quay parity (issue 10): strict-type and preference-order manifest reads (getManifest /
// getDigest take `mediaType` or `preference`), raw manifest upload keeping the bytes, and
// ManifestListMerger's merge of two lists / indexes (`quayside index merge SRC DST`).
// (ManifestTypeError, code MANIFEST_TYPE_MISMATCH, comes with errors.js above.)
export { MANIFEST_PREFERENCE_ORDER, sameManifestType } from "./media/types.js";
export { type MediaTypeOption } from "./ops/read.js";
export { putManifest, type PutManifestOptions, type PutManifestResult } from "./ops/put-manifest.js";
export { mergeIndexes, platformKey, type MergedIndex, type PlatformMatch } from "./media/index-merge.js";
export { mergeIndex, type MergeIndexOptions, type MergeIndexReport, type MergeEntry } from "./ops/merge.js";
