/**
 * Images built in memory for unit tests: config and layer blobs, OCI and Docker manifests and
 * indexes, referrers, each with the descriptor that names it. Digests are computed here with
 * node:crypto, independently of quayside's digest code, so tests compare against them.
 */
import { createHash } from "node:crypto";
import type { Descriptor } from "../../src/media/types.js";
import type { MemoryStore } from "../../src/store/memory.js";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_NONDISTRIBUTABLE_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** Some content and the descriptor naming it. */
export interface Content {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface TestPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export function content(bytes: Uint8Array | string, mediaType: string, extra: Partial<Descriptor> = {}): Content {
  const buffer = Buffer.from(bytes);
  return { descriptor: { mediaType, digest: sha256(buffer), size: buffer.length, ...extra }, bytes: buffer };
}

/** `size` bytes that depend only on `seed`: layers differ by seed, and a test is repeatable. */
export function layer(seed: string, size = 1024, mediaType = OCI_LAYER): Content {
  const out = Buffer.alloc(size);
  for (let block = 0, at = 0; at < size; block++) {
    const hash = createHash("sha256").update(`${seed}:${block}`).digest();
    at += hash.copy(out, at);
  }
  return content(out, mediaType);
}

export function config(platform: TestPlatform, options: { mediaType?: string; created?: string; layers?: number } = {}): Content {
  const body = {
    created: options.created ?? "2024-01-02T03:04:05Z",
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ["PATH=/usr/bin"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: Array.from({ length: options.layers ?? 0 }, (_, i) => sha256(Buffer.from(`diff ${i}`))) },
  };
  return content(JSON.stringify(body), options.mediaType ?? OCI_CONFIG);
}

export interface ManifestSpec {
  config: Content | Descriptor;
  layers: readonly (Content | Descriptor)[];
  /** "oci" (default) or "docker" (schema 2). */
  format?: "oci" | "docker";
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const descriptorOf = (d: Content | Descriptor): Descriptor => ("bytes" in d ? d.descriptor : d);

export function imageManifest(spec: ManifestSpec): Content {
  const docker = spec.format === "docker";
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const body = {
    schemaVersion: 2,
    mediaType,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config: descriptorOf(spec.config),
    layers: spec.layers.map(descriptorOf),
    ...(spec.subject ? { subject: spec.subject } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  return content(JSON.stringify(body), mediaType);
}

export function index(entries: readonly { manifest: Content; platform?: TestPlatform }[], options: { format?: "oci" | "docker"; annotations?: Record<string, string> } = {}): Content {
  const mediaType = options.format === "docker" ? DOCKER_LIST : OCI_INDEX;
  const body = {
    schemaVersion: 2,
    mediaType,
    manifests: entries.map((e) => ({ ...e.manifest.descriptor, ...(e.platform ? { platform: e.platform } : {}) })),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return content(JSON.stringify(body), mediaType);
}

/** An image ready to seed: its root, every manifest (children before the root) and every blob. */
export interface BuiltImage {
  root: Content;
  manifests: Content[];
  blobs: Content[];
}

/** One platform's image: a config and layers made from `seeds` (one layer per seed). */
export function singleImage(platform: TestPlatform, seeds: readonly string[], format: "oci" | "docker" = "oci"): BuiltImage {
  const layers = seeds.map((s) => layer(s, 1024, format === "docker" ? DOCKER_LAYER : OCI_LAYER));
  const cfg = config(platform, { mediaType: format === "docker" ? DOCKER_CONFIG : OCI_CONFIG, layers: layers.length });
  const manifest = imageManifest({ config: cfg, layers, format });
  return { root: manifest, manifests: [manifest], blobs: [cfg, ...layers] };
}

export const AMD64: TestPlatform = { os: "linux", architecture: "amd64" };
export const ARM64: TestPlatform = { os: "linux", architecture: "arm64", variant: "v8" };
export const ARMV7: TestPlatform = { os: "linux", architecture: "arm", variant: "v7" };

export interface MultiArch extends BuiltImage {
  amd64: Content;
  arm64: Content;
  armv7: Content;
  /** Used by amd64 and arm64. */
  shared: Content;
  /** Only in arm64's image. */
  arm64Only: Content;
  /** A non-distributable layer of the amd64 image, which the source does not hold. */
  foreign: Content;
  /** amd64's, arm64's, arm/v7's. */
  configs: readonly [Content, Content, Content];
}

/**
 * Three platforms, one layer shared by two of them, one non-distributable layer; the index is
 * annotated. OCI by default; "docker": a Docker manifest list of schema 2 manifests.
 */
export function multiArch(options: { layerSize?: number; format?: "oci" | "docker" } = {}): MultiArch {
  const format = options.format ?? "oci";
  const docker = format === "docker";
  const size = options.layerSize ?? 1024;
  const layerType = docker ? DOCKER_LAYER : OCI_LAYER;
  const shared = layer("shared", size, layerType);
  const amd64Layer = layer("amd64", size, layerType);
  const arm64Only = layer("arm64", size, layerType);
  const armv7Layer = layer("armv7", size, layerType);
  const foreignBlob = layer("foreign", 100, docker ? DOCKER_FOREIGN_LAYER : OCI_NONDISTRIBUTABLE_LAYER);
  const foreign = { ...foreignBlob, descriptor: { ...foreignBlob.descriptor, urls: ["https://example.com/foreign.tgz"] } };
  const configType = docker ? DOCKER_CONFIG : OCI_CONFIG;
  const configs = [config(AMD64, { layers: 3, mediaType: configType }), config(ARM64, { layers: 2, mediaType: configType }), config(ARMV7, { layers: 1, mediaType: configType })] as const;
  const amd64 = imageManifest({ config: configs[0], layers: [shared, foreign, amd64Layer], format });
  const arm64 = imageManifest({ config: configs[1], layers: [shared, arm64Only], format });
  const armv7 = imageManifest({ config: configs[2], layers: [armv7Layer], format });
  const root = index(
    [
      { manifest: amd64, platform: AMD64 },
      { manifest: arm64, platform: ARM64 },
      { manifest: armv7, platform: ARMV7 },
    ],
    { format, annotations: { "org.opencontainers.image.source": "https://example.com/app" } },
  );
  return {
    root,
    manifests: [amd64, arm64, armv7, root],
    // The foreign layer is not here: a source need not hold what may not be redistributed.
    blobs: [...configs, shared, amd64Layer, arm64Only, armv7Layer],
    amd64,
    arm64,
    armv7,
    shared,
    arm64Only,
    foreign,
    configs,
  };
}

/** Every blob and manifest pushed (blobs first), the root tagged; the store's call log cleared after. */
export async function seed(store: MemoryStore, image: BuiltImage, tag?: string): Promise<void> {
  for (const blob of image.blobs) await store.push(blob.descriptor, blob.bytes);
  for (const manifest of image.manifests) await store.push(manifest.descriptor, manifest.bytes);
  if (tag !== undefined) await store.tag(image.root.descriptor, tag);
  store.calls.length = 0;
}

/** Digests, each once, for set comparisons. */
export function digests(items: readonly (Content | Descriptor)[]): string[] {
  return [...new Set(items.map((i) => descriptorOf(i).digest))].sort();
}
