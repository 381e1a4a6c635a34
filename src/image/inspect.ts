/** A summary of what a reference points at: the data behind `quayside inspect`. */
import { isImage, isIndex, type Manifest } from "../media/manifest.js";
import type { Platform } from "../media/types.js";
import { formatPlatform } from "../ref/platform.js";
import type { RequestOptions } from "../registry/client.js";
import { imageHistory, type HistoryEntry } from "./details.js";
import type { Image, LayerInfo, Repository } from "./image.js";

export interface IndexEntrySummary {
  digest: string;
  mediaType: string;
  size: number;
  platform?: string;
  artifactType?: string;
}

export interface IndexSummary {
  kind: "index";
  reference: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  manifests: IndexEntrySummary[];
}

export interface ImageSummary {
  kind: "image";
  reference: string;
  digest: string;
  mediaType: string;
  /** Set when the image was picked out of an index. */
  indexDigest?: string;
  platform: string;
  created?: string;
  config: { digest: string; size: number; mediaType: string };
  layers: LayerInfo[];
  /** The config's history, oldest first, each command cleaned (absent when the config has none). */
  history?: HistoryEntry[];
  /** Bytes stored: manifest + config + compressed layers. */
  totalSize: number;
}

export interface Schema1Summary {
  kind: "schema1";
  reference: string;
  digest: string;
  mediaType: string;
  platform: string;
  layers: { digest: string }[];
}

export type InspectSummary = IndexSummary | ImageSummary | Schema1Summary;

/**
 * What a manifest already read stands for: an index (unless a platform picks one of its images),
 * an image, or a Docker schema 1 manifest. A single image of another platform than the one given
 * is a PlatformNotFoundError naming the image's.
 */
export async function summarize(repository: Repository, top: Manifest, reference: string, options: RequestOptions & { platform?: Platform | undefined } = {}): Promise<InspectSummary> {
  if (isIndex(top) && options.platform === undefined) return summarizeIndex(top, reference);
  if (isIndex(top) || isImage(top)) return summarizeImage(await repository.imageOf(top, { ...options, strictPlatform: true }), reference);
  return summarizeSchema1(top, reference);
}

function summarizeIndex(index: Extract<Manifest, { kind: "oci-index" | "docker-list" }>, reference: string): IndexSummary {
  const manifests = index.manifests.map((m) => ({
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.size,
    ...(m.platform ? { platform: formatPlatform(m.platform) } : {}),
    ...(m.artifactType ? { artifactType: m.artifactType } : {}),
  }));
  return {
    kind: "index",
    reference,
    digest: index.digest,
    mediaType: index.mediaType,
    platforms: manifests.flatMap((m) => (m.platform && !m.platform.startsWith("unknown/") ? [m.platform] : [])),
    manifests,
  };
}

async function summarizeImage(image: Image, reference: string): Promise<ImageSummary> {
  const config = await image.config();
  const history = imageHistory(config);
  const { manifest } = image;
  return {
    kind: "image",
    reference,
    digest: image.digest,
    mediaType: manifest.mediaType,
    ...(image.index ? { indexDigest: image.index.digest } : {}),
    platform: await image.platform(),
    ...(config.created ? { created: config.created } : {}),
    config: { digest: manifest.config.digest, size: manifest.config.size, mediaType: manifest.config.mediaType },
    layers: image.layers,
    ...(history.length > 0 ? { history } : {}),
    totalSize: image.size,
  };
}

function summarizeSchema1(manifest: Extract<Manifest, { kind: "docker-v1" }>, reference: string): Schema1Summary {
  return {
    kind: "schema1",
    reference,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    platform: `linux/${manifest.architecture}`,
    layers: manifest.fsLayers.map((l) => ({ digest: l.blobSum })),
  };
}
