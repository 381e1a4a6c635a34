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
