import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const REF_NAME = "org.opencontainers.image.ref.name";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PlatformSpec extends Platform {
  /** Number of layers, 1 or 2 (default 1). */
  layers?: number;
}

export interface ImageSpec {
  /** Written as org.opencontainers.image.ref.name, so `oci:DIR:TAG` finds it. */
  tag: string;
  platforms: readonly PlatformSpec[];
  /** Force an index even for one platform (an index is always written for several). */
  index?: boolean;
  /** RFC 3339 creation time in every config (default 2024-01-02T03:04:05Z; fixed so digests are stable). */
  created?: string;
}

export interface LayoutSpec {
  images: readonly ImageSpec[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface LayerInfo extends Descriptor {
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
}

export interface WrittenManifest {
  platform: Platform;
  manifest: Descriptor;
  config: Descriptor;
  layers: LayerInfo[];
}

export interface WrittenImage {
  tag: string;
  /** What the tag points at: the index, or the manifest for a single-platform image. */
  root: Descriptor;
  manifests: WrittenManifest[];
}

export const platformString = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const FIXED_MTIME = new Date("2024-01-02T03:04:05Z");

/** A tiny real tar built with tar-stream: one directory and one file per layer. */
async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    archive.on("end", resolve);
    archive.on("error", reject);
  });
  archive.entry({ name: "quayside/", type: "directory", mode: 0o755, mtime: FIXED_MTIME });
  for (const [name, content] of Object.entries(files)) {
    archive.entry({ name, mode: 0o644, mtime: FIXED_MTIME, uid: 0, gid: 0 }, content);
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes real images into an OCI image layout (image-spec 1.0): gzip layers whose diff_ids
 * are right, a config per platform, a manifest per platform, and an index for multi-platform
 * images; contents are deterministic (fixed mtimes, fixed created) and distinct per image,
 * platform and layer. Blobs are written to a temporary name and renamed into place.
 */
export async function writeOciLayout(dir: string, spec: LayoutSpec): Promise<WrittenImage[]> {
  const blobsDir = join(dir, "blobs", "sha256");
  await mkdir(blobsDir, { recursive: true });
  const written = new Set<string>();

  async function putBlob(mediaType: string, data: Buffer): Promise<Descriptor> {
    const digest = sha256(data);
    if (!written.has(digest)) {
      written.add(digest);
      const target = join(blobsDir, digest.slice("sha256:".length));
      const temp = `${target}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(temp, data);
      await rename(temp, target);
    }
    return { mediaType, digest, size: data.length };
  }
  const putJson = (mediaType: string, value: unknown): Promise<Descriptor> =>
    putBlob(mediaType, Buffer.from(JSON.stringify(value)));

  const images: WrittenImage[] = [];
  for (const image of spec.images) {
    const created = image.created ?? FIXED_MTIME.toISOString().replace(".000Z", "Z");
    const manifests: WrittenManifest[] = [];
    for (const p of image.platforms) {
      const platform: Platform = { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
      const layerCount = Math.min(Math.max(p.layers ?? 1, 1), 2);
      const layers: LayerInfo[] = [];
      for (let i = 1; i <= layerCount; i++) {
        const tar = await tarOf({ [`quayside/layer${i}.txt`]: `${image.tag} ${platformString(platform)} layer ${i}\n` });
        layers.push({ ...(await putBlob(OCI_LAYER_GZIP, gzipSync(tar))), diffId: sha256(tar) });
      }
      const config = await putJson(OCI_CONFIG, {
        created,
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Env: ["PATH=/usr/local/bin:/usr/bin:/bin"], Cmd: ["/bin/sh"], Labels: { "quayside.test": image.tag } },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
        history: layers.map((_, i) => ({ created, created_by: `quayside test layer ${i + 1}` })),
      });
      const manifest = await putJson(OCI_MANIFEST, {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      });
      manifests.push({ platform, manifest, config, layers });
    }
    const first = manifests[0];
    if (!first) throw new Error(`image ${image.tag} has no platforms`);
    const root =
      manifests.length > 1 || image.index
        ? await putJson(OCI_INDEX, {
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: manifests.map((m) => ({ ...m.manifest, platform: m.platform })),
          })
        : first.manifest;
    images.push({ tag: image.tag, root, manifests });
  }

  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((i) => ({ ...i.root, annotations: { [REF_NAME]: i.tag } })),
  };
  const indexTemp = join(dir, `index.json.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(indexTemp, JSON.stringify(index));
  await rename(indexTemp, join(dir, "index.json"));
  return images;
}
