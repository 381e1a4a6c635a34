/** The throwaway manifest that safe untag points a tag at before deleting it by digest. */
import { randomBytes } from "node:crypto";
import { digestOf } from "../digest/digest.js";
import { MediaType } from "../media/types.js";

export const UNTAG_ARTIFACT_TYPE = "application/vnd.quayside.untag.placeholder";

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
