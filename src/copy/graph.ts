/**
 * The graph under a root manifest: every manifest (read, they are small) children-first and
 * every blob, optionally narrowed to some platforms of an index. Copy and check both walk it.
 */
import { QuaysideError } from "../errors.js";
import { isImage, isIndex, parseManifest } from "../media/manifest.js";
import { isManifestMediaType, MediaType, type Descriptor, type Platform } from "../media/types.js";
import { formatPlatform, selectPlatform } from "../ref/platform.js";
import { fetchBytes, requireCapability, type Store, type StoreOptions } from "../store/store.js";

export interface ManifestNode {
  descriptor: Descriptor;
  bytes: Uint8Array;
  platform?: string;
}

export interface Plan {
  /** Children first (an image before its index, a subject before its referrers). */
  manifests: ManifestNode[];
  /** The referrers among them (with GraphOptions.referrers). */
  referrers: Descriptor[];
  blobs: Descriptor[];
  root: Descriptor;
  indexRewritten: boolean;
}

/** Layers that may not be redistributed live elsewhere (their `urls`): never copied, as skopeo and crane do. */
const NON_DISTRIBUTABLE = /(\.foreign\.|\.nondistributable\.)/;

export interface GraphOptions extends StoreOptions {
  /** Narrow an index to these platforms (see CopyOptions.platforms). */
  platforms?: readonly Platform[] | undefined;
  /** Also the referrers of every manifest of the graph, and theirs, with their own graphs. The source must list referrers. */
  referrers?: boolean | undefined;
}

/** Read every manifest of the graph (they are small) and list the blobs, before any byte moves. */
export async function planGraph(source: Store, root: Descriptor, options: GraphOptions = {}): Promise<Plan> {
  const manifests: ManifestNode[] = [];
  const blobs = new Map<string, Descriptor>();
  const seen = new Set<string>();
  const referrers: Descriptor[] = [];
  if (options.referrers) requireCapability(source, "referrers", "--referrers");
  const listReferrers = options.referrers ? source.referrers?.bind(source) : undefined;

  const visit = async (descriptor: Descriptor, bytes: Uint8Array, platform?: string): Promise<void> => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    const manifest = parseManifest(bytes, descriptor.mediaType);
    if (isIndex(manifest)) {
      for (const child of manifest.manifests) await visitChild(child);
    } else if (isImage(manifest)) {
      for (const blob of [manifest.config, ...manifest.layers]) {
        if (!NON_DISTRIBUTABLE.test(blob.mediaType)) blobs.set(blob.digest, blob);
      }
    } else {
      throw new QuaysideError("UNSUPPORTED_MANIFEST", `${source.location}@${descriptor.digest}: Docker schema 1 images are read-only in quayside; they cannot be copied`, {
        category: "invalid-input",
      });
    }
    manifests.push({ descriptor, bytes, ...(platform ? { platform } : {}) });
    for (const referrer of listReferrers ? await listReferrers(descriptor, options) : []) {
      if (seen.has(referrer.digest) || !isManifestMediaType(referrer.mediaType)) continue;
      referrers.push(referrer);
      await visitChild(referrer);
    }
  };
  const visitChild = async (child: Descriptor): Promise<void> => {
    if (!isManifestMediaType(child.mediaType)) {
      blobs.set(child.digest, child);
      return;
    }
    // Named again (another platform entry, a nested index): read once.
    if (seen.has(child.digest)) return;
    const bytes = await fetchBytes(source, child, options);
    await visit(child, bytes, child.platform ? formatPlatform(child.platform) : undefined);
  };

  const rootBytes = await fetchBytes(source, root, options);
  const rootManifest = parseManifest(rootBytes, root.mediaType);
  const wanted = options.platforms;
  if (!isIndex(rootManifest) || wanted === undefined || wanted.length === 0) {
    await visit(root, rootBytes, root.platform ? formatPlatform(root.platform) : undefined);
    return { manifests, referrers, blobs: [...blobs.values()], root, indexRewritten: false };
  }

  const selected = dedupe(wanted.map((platform) => selectPlatform(rootManifest.manifests, platform)));
  if (selected.length === 1) {
    const only = selected[0] as Descriptor;
    await visitChild(only);
    return { manifests, referrers, blobs: [...blobs.values()], root: stripToDescriptor(only), indexRewritten: false };
  }
  for (const child of selected) await visitChild(child);
  const subset = subsetIndex(rootBytes, selected);
  manifests.push({ descriptor: subset.descriptor, bytes: subset.bytes });
  return { manifests, referrers, blobs: [...blobs.values()], root: subset.descriptor, indexRewritten: true };
}

/** The source index with only the chosen entries (in their original order); every other field kept. */
function subsetIndex(indexBytes: Uint8Array, keep: readonly Descriptor[]): { descriptor: Descriptor; bytes: Uint8Array } {
  const index = JSON.parse(Buffer.from(indexBytes).toString("utf8")) as { mediaType?: string; manifests: Descriptor[] };
  const digests = new Set(keep.map((d) => d.digest));
  index.manifests = index.manifests.filter((m) => digests.has(m.digest));
  const bytes = Buffer.from(JSON.stringify(index));
  // Parsing validates what we wrote and gives its digest.
  const written = parseManifest(bytes, index.mediaType ?? MediaType.OciIndex);
  return { descriptor: { mediaType: written.mediaType, digest: written.digest, size: bytes.length }, bytes };
}

function stripToDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform ? { platform: d.platform } : {}) };
}

function dedupe(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}
