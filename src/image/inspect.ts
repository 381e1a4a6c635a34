/** A summary of what a reference points at: the data behind `quayside inspect`. */
import { QuaysideError } from "../errors.js";
import { isImage, isIndex, type Manifest } from "../media/manifest.js";
import { verifySchema1Signatures, type VerifiedSchema1Signature } from "../media/schema1-signature.js";
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
  /** Its JWS signatures, checked as python-dxf's verify does (see verifySchema1Signatures). */
  signature: Schema1SignatureStatus;
}

/** The codes of a schema 1 signature that failed: it does not verify, or is refused. */
export type Schema1SignatureFailureCode = "SIGNATURE_INVALID" | "SIGNATURE_ALGORITHM_DISALLOWED" | "SIGNATURE_CHAIN_UNSUPPORTED";

/**
 * What the signatures of a schema 1 manifest say: every one verified (with who signed), none to
 * verify, or failed: the error's code and one-line message (inspect describes; it does not refuse).
 */
export type Schema1SignatureStatus =
  | { status: "verified"; signatures: VerifiedSchema1Signature[] }
  | { status: "unsigned" }
  | { status: "failed"; code: Schema1SignatureFailureCode; message: string };

const SIGNATURE_FAILURE_CODES: ReadonlySet<string> = new Set<Schema1SignatureFailureCode>(["SIGNATURE_INVALID", "SIGNATURE_ALGORITHM_DISALLOWED", "SIGNATURE_CHAIN_UNSUPPORTED"]);

function isSignatureFailure(err: unknown): err is QuaysideError & { code: Schema1SignatureFailureCode } {
  return err instanceof QuaysideError && SIGNATURE_FAILURE_CODES.has(err.code);
}

/** The signature status of a schema 1 manifest's exact bytes; `reference` names it in messages. */
export function schema1SignatureStatus(bytes: Uint8Array, reference: string): Schema1SignatureStatus {
  try {
    const verification = verifySchema1Signatures(bytes, { subject: `manifest ${reference}` });
    return verification === null ? { status: "unsigned" } : { status: "verified", signatures: verification.signatures };
  } catch (err) {
    if (isSignatureFailure(err)) return { status: "failed", code: err.code, message: err.message };
    throw err;
  }
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
    signature: schema1SignatureStatus(manifest.bytes, reference),
  };
}
