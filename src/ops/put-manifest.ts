/**
 * Put a manifest given as raw bytes (pubtools-quay's `upload_manifest(raw=True)`): the bytes are
 * stored exactly as given, so what the destination holds has the sha256 of those bytes.
 */
import { DigestMismatchError, InvalidReferenceError } from "../errors.js";
import { isIndex, parseManifest } from "../media/manifest.js";
import type { Descriptor } from "../media/types.js";
import { parseExplicitReference } from "../ref/reference.js";
import { parseLocation } from "../store/locations.js";
import { requireCapability } from "../store/store.js";
import { withPool, type OperationOptions } from "./pool.js";

export interface PutManifestOptions extends OperationOptions {
  /**
   * The Content-Type to send. Default: the body's own `mediaType` field, else the type its shape
   * shows (pubtools-quay assumes Docker schema 1 there). One that disagrees with the body's field
   * is refused.
   */
  mediaType?: string | undefined;
}

export interface PutManifestResult {
  /** Where it was put, as given. */
  reference: string;
  /** sha256 of the bytes given, which is what the destination now holds (signed schema 1: of its payload). */
  digest: string;
  mediaType: string;
  size: number;
  /** The tag written, or undefined when the location named a digest. */
  tag: string | undefined;
}

/**
 * Store manifest bytes, unchanged, at LOCATION (`host/repo:tag`, `host/repo@digest`,
 * `oci:DIR:TAG`): by digest, then tagged. Everything it references must be there already (a
 * registry refuses it otherwise: MANIFEST_BLOB_UNKNOWN). The tag or digest must be written out.
 */
export async function putManifest(location: string, manifestBytes: Uint8Array | string, options: PutManifestOptions = {}): Promise<PutManifestResult> {
  const bytes = typeof manifestBytes === "string" ? new TextEncoder().encode(manifestBytes) : manifestBytes;
  requireWrittenTarget(location);
  const manifest = parseManifest(bytes, options.mediaType);
  return withPool(options, async (pool) => {
    const opened = await pool.open(location, "destination");
    try {
      if (isIndex(manifest)) requireCapability(opened.store, "indexes", `put ${location}`);
      const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: bytes.length };
      if (opened.name !== undefined && opened.tag === undefined && opened.name !== manifest.digest) {
        throw new DigestMismatchError(opened.name, manifest.digest, `manifest to put at ${location}`);
      }
      await opened.store.push(descriptor, bytes, { signal: options.signal });
      if (opened.tag !== undefined) await opened.store.tag(descriptor, opened.tag, { signal: options.signal });
      await opened.store.close();
      return { reference: location, digest: manifest.digest, mediaType: manifest.mediaType, size: bytes.length, tag: opened.tag };
    } catch (err) {
      await opened.store.abort();
      throw err;
    }
  });
}

/** A location written to names its tag or digest (as pubtools' image URLs must): "latest" is never assumed for a write. */
export function requireWrittenTarget(location: string): void {
  const parsed = parseLocation(location);
  const explicit = parsed.scheme === "docker" ? hasTagOrDigest(parsed.text.replace(/^docker:\/\//, "")) : parsed.reference !== undefined;
  if (!explicit) throw new InvalidReferenceError(location, "tag", 'is missing: name the tag (or digest) to write; "latest" is not assumed');
}

/** After parseLocation accepted the text, parseExplicitReference can only fail for want of a tag or digest. */
function hasTagOrDigest(reference: string): boolean {
  try {
    parseExplicitReference(reference);
    return true;
  } catch {
    return false;
  }
}
