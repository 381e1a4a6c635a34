/**
 * Copy, tag and check: between any two locations (registries, OCI layouts, docker archives),
 * through the one copy engine.
 */
import { access, constants } from "node:fs/promises";
import { checkImage, type CheckResult } from "../copy/check.js";
import { copyImage, type CopyEvent, type CopyResult } from "../copy/copy.js";
import { DigestMismatchError, InvalidReferenceError, UsageError } from "../errors.js";
import type { Platform } from "../media/types.js";
import { formatPlatform, hostPlatform, parsePlatform } from "../ref/platform.js";
import { isValidTag } from "../ref/reference.js";
import type { OpenedLocation } from "../store/locations.js";
import { unreadableFile } from "../util/unreadable.js";
import { withLocation, withPool, type ClientPool, type OperationOptions } from "./pool.js";
import { imageName } from "./read.js";

export interface CopyOperationOptions extends OperationOptions {
  /**
   * From an index, only these platforms: one gives that image alone, several a new index of
   * just those (a new digest). Default: every platform, digests unchanged; into a store that
   * holds single images only (a docker archive), this host's platform.
   */
  platforms?: readonly (Platform | string)[] | undefined;
  /** Every platform, even into a store that holds single images only (which then refuses an index). */
  allPlatforms?: boolean | undefined;
  /** Also the OCI 1.1 referrers (signatures, SBOMs) of every manifest copied, and theirs. */
  referrers?: boolean | undefined;
  /** Blobs copied at once (default 4). */
  jobs?: number | undefined;
  /** Credentials of the source / destination registry from these config files (two accounts of one registry). */
  sourceAuthFile?: string | undefined;
  destinationAuthFile?: string | undefined;
  /**
   * Open the source / destination with this pool instead (its own credentials: two accounts, one
   * per side, even of one registry). The caller closes it.
   */
  sourcePool?: ClientPool | undefined;
  destinationPool?: ClientPool | undefined;
  /** Progress: plan, blob start/progress/done, manifest done. */
  onEvent?: ((event: CopyEvent) => void) | undefined;
  /** Things worth telling a person (a platform chosen for them, a layout skopeo cannot read by tag). */
  onNote?: ((message: string) => void) | undefined;
}

export interface CopyReport extends CopyResult {
  /** The source and destination as given. */
  from: string;
  to: string;
}

/** Copy the image a location names to another location; the destination's tag is written last. */
export function copy(source: string, destination: string, options: CopyOperationOptions = {}): Promise<CopyReport> {
  const platforms = options.platforms?.map((p) => (typeof p === "string" ? parsePlatform(p) : p));
  if (platforms !== undefined && options.allPlatforms) throw new UsageError("platforms and allPlatforms exclude each other");
  const explicit = options.credentials ?? options.pool?.options.credentials;
  if ((options.sourceAuthFile !== undefined || options.destinationAuthFile !== undefined) && explicit !== undefined) {
    throw new UsageError("per-side auth files and explicit credentials exclude each other");
  }
  const note = options.onNote ?? (() => undefined);
  return withPool(options, async (pool) => {
    for (const file of [options.sourceAuthFile, options.destinationAuthFile]) {
      if (file !== undefined) await access(file, constants.R_OK).catch((err: unknown) => Promise.reject(unreadableFile(file, err)));
    }
    const from = await (options.sourcePool ?? pool).open(source, "source", options.sourceAuthFile);
    let to: OpenedLocation;
    try {
      to = await (options.destinationPool ?? pool).open(destination, "destination", options.destinationAuthFile);
    } catch (err) {
      await from.store.abort();
      throw err;
    }
    // From here on a failure leaves nothing half-written (an archive's temporary file).
    let result: CopyResult;
    try {
      let chosen = platforms;
      if (chosen === undefined && !options.allPlatforms && !to.store.capabilities.indexes) {
        chosen = [hostPlatform()];
        note(`note: ${destination} holds one platform per image; copying ${formatPlatform(hostPlatform())} (pick another with --platform)`);
      }
      result = await copyImage(from.store, imageName(from), to.store, to.tag, {
        platforms: chosen,
        referrers: options.referrers,
        jobs: options.jobs,
        signal: options.signal,
        onEvent: options.onEvent,
      });
      // A destination pinned to a digest must end up holding exactly that.
      if (to.name !== undefined && to.tag === undefined && to.name !== result.destination.digest) {
        throw new DigestMismatchError(to.name, result.destination.digest, `image copied to ${destination}`);
      }
      await to.store.close();
      await from.store.close();
    } catch (err) {
      await Promise.allSettled([to.store.abort(), from.store.abort()]);
      throw err;
    }
    if (to.location.scheme === "oci" && to.tag !== undefined && !result.destination.mediaType.startsWith("application/vnd.oci.")) {
      note(`note: ${result.destination.mediaType} is not an OCI type; skopeo and umoci find only OCI manifests by tag in a layout`);
    }
    return { from: source, to: destination, ...result };
  });
}

export interface TagResult {
  source: string;
  /** The new name, in full. */
  tagged: string;
  digest: string;
}

/**
 * Put the manifest a location names under another tag: NEWTAG alone (same repository, the same
 * bytes, one GET and one PUT) or a full reference elsewhere (a copy: blobs mounted where possible).
 */
export function tag(location: string, newTag: string, options: CopyOperationOptions = {}): Promise<TagResult> {
  if (newTag.includes("/") || newTag.includes("@")) {
    return copy(location, newTag, options).then((r) => ({ source: location, tagged: newTag, digest: r.destination.digest }));
  }
  if (!isValidTag(newTag)) throw new InvalidReferenceError(newTag, "tag", "is not a valid tag (letters, digits, _ . -; at most 128)");
  return withLocation(options, location, async (opened) => {
    const descriptor = await opened.store.resolve(imageName(opened), options);
    await opened.store.tag(descriptor, newTag, options);
    return { source: opened.display, tagged: retagged(opened, newTag), digest: descriptor.digest };
  });
}

/** How a location reads with another tag. */
function retagged(opened: OpenedLocation, newTag: string): string {
  const { location } = opened;
  if (location.scheme === "docker") return location.reference.withTag(newTag).toString();
  return `${location.scheme}:${location.path}:${newTag}`;
}

export interface CheckReport extends CheckResult {
  reference: string;
  /** Every manifest and blob is present. */
  complete: boolean;
}

/** Is every manifest and blob of the image a location names present there? (dockerreg's check_image) */
export function check(location: string, options: OperationOptions & { platforms?: readonly (Platform | string)[] | undefined } = {}): Promise<CheckReport> {
  const platforms = options.platforms?.map((p) => (typeof p === "string" ? parsePlatform(p) : p));
  return withLocation(options, location, async (opened) => {
    const result = await checkImage(opened.store, imageName(opened), { platforms, signal: options.signal });
    return { reference: location, complete: result.missing.length === 0, ...result };
  });
}
