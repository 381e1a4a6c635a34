/** Removing things from a registry: a manifest (with every tag on it), or one tag alone. */
import { InvalidReferenceError, isNotFound, QuaysideError, UnsupportedError } from "../errors.js";
import { isImage, isIndex, type ImageManifest } from "../media/manifest.js";
import type { RegistryClient, RequestOptions } from "../registry/client.js";
import { parseExplicitReference } from "../ref/reference.js";
import { withPool, type OperationOptions } from "./pool.js";

export interface DeleteResult {
  /** The manifest digest deleted. */
  deleted: string;
  reference: string;
  /** True when a tag was named: every other tag on that manifest went with it. */
  byTag: boolean;
  /** With `layers`: the image manifests of an index deleted after it. */
  manifests?: string[];
  /** With `layers`: the blobs deleted (configs and layers; those already gone are left out). */
  blobs?: string[];
}

export interface DeleteOptions extends OperationOptions {
  /**
   * Also delete what the manifest references (dockerreg's delete_image with its layers): for an
   * index its image manifests, and every config and layer blob, after the manifest itself. A blob
   * another image of the repository shares goes too: that image is then broken.
   */
  layers?: boolean | undefined;
}

/**
 * Delete the manifest a reference names. By tag, the tag is resolved and the manifest deleted
 * by digest: EVERY tag on it goes too (untag removes one). The tag or digest must be explicit.
 */
export function deleteImage(reference: string, options: DeleteOptions = {}): Promise<DeleteResult> {
  const ref = parseExplicitReference(reference);
  return withPool(options, async (pool) => {
    const client = pool.client(ref.registry);
    if (options.layers) return deleteWithContent(client, ref.repository, ref.reference, ref.toString(), ref.digest === undefined, options);
    if (ref.digest !== undefined) {
      await client.deleteManifest(ref.repository, ref.digest, options);
      return { deleted: ref.digest, reference: ref.toString(), byTag: false };
    }
    const descriptor = await client.deleteTag(ref.repository, ref.reference, options);
    return { deleted: descriptor.digest, reference: ref.toString(), byTag: true };
  });
}

/** The manifest first (no tag is left pointing at missing blobs), then its children, then the blobs. */
async function deleteWithContent(client: RegistryClient, repository: string, name: string, reference: string, byTag: boolean, options: RequestOptions): Promise<DeleteResult> {
  const root = await client.getManifest(repository, name, options);
  const images: ImageManifest[] = [];
  const children: string[] = [];
  if (isIndex(root)) {
    for (const entry of root.manifests) {
      const child = await client.getManifest(repository, entry.digest, options).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      if (child === undefined) continue;
      children.push(child.digest);
      if (isImage(child)) images.push(child);
    }
  } else if (isImage(root)) {
    images.push(root);
  }
  const blobs = [...new Set(images.flatMap((image) => [image.config.digest, ...image.layers.filter((l) => l.urls === undefined).map((l) => l.digest)]))];
  await client.deleteManifest(repository, root.digest, options);
  const gone = async (work: Promise<void>): Promise<boolean> => work.then(() => true, (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)));
  const manifests: string[] = [];
  for (const digest of children) if (await gone(client.deleteManifest(repository, digest, options))) manifests.push(digest);
  const deletedBlobs: string[] = [];
  try {
    for (const digest of blobs) if (await gone(client.deleteBlob(repository, digest, options))) deletedBlobs.push(digest);
  } catch (err) {
    // Registries that keep blobs to their garbage collector (Quay, Hub) refuse the DELETE: say what was done.
    if (err instanceof QuaysideError && err.code === "UNSUPPORTED" && deletedBlobs.length === 0) {
      throw new UnsupportedError(`${reference}: manifest ${root.digest} deleted, but ${client.registry} does not delete blobs; its garbage collection removes those no longer referenced`, { cause: err });
    }
    throw err;
  }
  return { deleted: root.digest, reference, byTag, manifests, blobs: deletedBlobs };
}

export interface UntagResult {
  untagged: string;
  /** The manifest the tag pointed at (kept, with its other tags). */
  digest: string;
  method: "tag-delete" | "placeholder";
}

/** Remove one tag, keeping the manifest and its other tags. The tag must be explicit. */
export function untag(reference: string, options: OperationOptions = {}): Promise<UntagResult> {
  const ref = parseExplicitReference(reference);
  if (ref.tag === undefined || ref.digest !== undefined) throw new InvalidReferenceError(reference, "tag", "untag takes REPOSITORY:TAG (a digest names a manifest: delete it instead)");
  const tag = ref.tag;
  return withPool(options, async (pool) => {
    const result = await pool.client(ref.registry).untag(ref.repository, tag, options);
    return { untagged: ref.toString(), digest: result.digest, method: result.method };
  });
}
