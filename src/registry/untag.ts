/**
 * Safe untag: remove ONE tag and leave the manifest and its other tags alone. DELETE by tag
 * where the registry allows it (OCI 1.1), else point the tag at a unique placeholder manifest
 * and delete that by digest.
 */
import { randomBytes } from "node:crypto";
import { digestOf } from "../digest/digest.js";
import { RegistryError } from "../errors.js";
import { MediaType } from "../media/types.js";
import { deleteManifest, getManifest, headManifest } from "./manifests.js";
import { putManifestListingReferrer } from "./referrers.js";
import { sendDelete, type RegistrySession, type RequestOptions } from "./session.js";
import { uploadBlob } from "./uploads.js";

export const UNTAG_ARTIFACT_TYPE = "application/vnd.quayside.untag.placeholder";

export interface UntagResult {
  method: "tag-delete" | "placeholder";
  /** What the tag pointed at. */
  digest: string;
}

export async function untag(session: RegistrySession, repository: string, tag: string, options: RequestOptions = {}): Promise<UntagResult> {
  const current = await headManifest(session, repository, tag, options);
  if (session.capabilities.tagDelete !== false) {
    try {
      await sendDelete(session, `/v2/${repository}/manifests/${tag}`, repository, options);
      session.capabilities.tagDelete = true;
      return { method: "tag-delete", digest: current.digest };
    } catch (err) {
      // distribution 2.8 answers DIGEST_INVALID (or 404/405 elsewhere) for a tag; anything else is real.
      if (!(err instanceof RegistryError) || ![400, 404, 405].includes(err.status)) throw err;
      session.capabilities.tagDelete = false;
    }
  }
  const original = await getManifest(session, repository, current.digest, options);
  const { config, manifest } = untagPlaceholder(repository, tag);
  await uploadBlob(session, repository, config, { mediaType: MediaType.OciEmpty, ...options });
  const placeholder = await putManifestListingReferrer(session, repository, tag, manifest, options);
  try {
    await deleteManifest(session, repository, placeholder.digest, options);
  } catch (err) {
    // Deletes refused (disabled, or no delete permission): put the tag back where it was.
    await putManifestListingReferrer(session, repository, tag, original.bytes, { ...options, mediaType: original.mediaType });
    throw err;
  }
  return { method: "placeholder", digest: current.digest };
}

/** A unique (nonce-annotated) OCI manifest over the empty `{}` blob, so no other tag can share its digest. */
export function untagPlaceholder(repository: string, tag: string): { config: Uint8Array; manifest: Uint8Array } {
  const config = Buffer.from("{}");
  const empty = { mediaType: MediaType.OciEmpty, digest: digestOf(config), size: config.length };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: UNTAG_ARTIFACT_TYPE,
    config: empty,
    layers: [empty],
    annotations: { "org.quayside.untag": `${repository}:${tag}`, "org.quayside.nonce": randomBytes(16).toString("hex") },
  };
  return { config, manifest: Buffer.from(JSON.stringify(manifest)) };
}
