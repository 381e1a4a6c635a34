/** Removing things from a registry: a manifest (with every tag on it), or one tag alone. */
import { InvalidReferenceError } from "../errors.js";
import { parseExplicitReference } from "../ref/reference.js";
import { withPool, type OperationOptions } from "./pool.js";

export interface DeleteResult {
  /** The manifest digest deleted. */
  deleted: string;
  reference: string;
  /** True when a tag was named: every other tag on that manifest went with it. */
  byTag: boolean;
}

/**
 * Delete the manifest a reference names. By tag, the tag is resolved and the manifest deleted
 * by digest: EVERY tag on it goes too (untag removes one). The tag or digest must be explicit.
 */
export function deleteImage(reference: string, options: OperationOptions = {}): Promise<DeleteResult> {
  const ref = parseExplicitReference(reference);
  return withPool(options, async (pool) => {
    const client = pool.client(ref.registry);
    if (ref.digest !== undefined) {
      await client.deleteManifest(ref.repository, ref.digest, options);
      return { deleted: ref.digest, reference: ref.toString(), byTag: false };
    }
    const descriptor = await client.deleteTag(ref.repository, ref.reference, options);
    return { deleted: descriptor.digest, reference: ref.toString(), byTag: true };
  });
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
