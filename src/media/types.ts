/** Media types and the descriptor/platform shapes shared by OCI and Docker manifests. */

export const MediaType = {
  DockerManifestV1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerManifestV1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  DockerManifestV2: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciEmpty: "application/vnd.oci.empty.v1+json",
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** All manifest media types, in the default Accept order (OCI index, OCI manifest, Docker list, Docker v2, v1 signed, v1). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.freeze([
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifestV2,
  MediaType.DockerManifestV1Signed,
  MediaType.DockerManifestV1,
]);

/**
 * pubtools-quay's preference when no type is named: a Docker manifest list, then Docker schema 2,
 * then an OCI index, an OCI manifest, and Docker schema 1 last (one request per type tried).
 */
export const MANIFEST_PREFERENCE_ORDER: readonly string[] = Object.freeze([
  MediaType.DockerManifestList,
  MediaType.DockerManifestV2,
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestV1,
]);

/** The same manifest type, parameters and case aside; the signed and unsigned schema 1 types count as one. */
export function sameManifestType(a: string, b: string): boolean {
  const x = normalizeMediaType(a);
  const y = normalizeMediaType(b);
  return x === y || (isSchema1MediaType(x) && isSchema1MediaType(y));
}

export function isManifestMediaType(mt: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(normalizeMediaType(mt));
}

/** OCI index or Docker manifest list. */
export function isIndexMediaType(mt: string): boolean {
  const normalized = normalizeMediaType(mt);
  return normalized === MediaType.OciIndex || normalized === MediaType.DockerManifestList;
}

/** Docker schema 1 (signed or not). */
export function isSchema1MediaType(mt: string): boolean {
  const normalized = normalizeMediaType(mt);
  return normalized === MediaType.DockerManifestV1 || normalized === MediaType.DockerManifestV1Signed;
}

/**
 * The bare media type of a Content-Type header value: parameters ("; charset=utf-8") dropped,
 * whitespace trimmed, lower-cased (media types are case-insensitive, RFC 9110 8.3.1).
 */
export function normalizeMediaType(contentType: string): string {
  const semicolon = contentType.indexOf(";");
  const bare = semicolon < 0 ? contentType : contentType.slice(0, semicolon);
  return bare.trim().toLowerCase();
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}
