/** Reading a docker-archive: index the tar once, synthesize a Docker schema 2 manifest per image, serve byte ranges. */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { posix } from "node:path";
import { Readable, pipeline as pipelineCallback } from "node:stream";
import { DigestHasher, createVerifyingStream, digestOf, isDigest } from "../../digest/digest.js";
import { InvalidReferenceError, QuaysideError, SizeMismatchError } from "../../errors.js";
import { parseManifest, type ImageManifest } from "../../media/manifest.js";
import { MediaType, isManifestMediaType, type Descriptor } from "../../media/types.js";
import { forEachLimit } from "../../util/limit.js";
import { bytesStream, readAll } from "../../util/streams.js";
import { cleanTarPath, indexTar, type TarEntry } from "../../util/tar-index.js";
import type { StoreOptions } from "../store.js";
import { HASH_JOBS, MANIFEST_JSON, MANIFEST_JSON_LIMIT, invalidArchive, layerMediaTypeOf, normalizeRepoTag } from "./format.js";

// ---------------------------------------------------------------------------------------------
// Reading

export interface ManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

interface StoredBlob {
  entry: TarEntry;
  descriptor: Descriptor;
}

interface AnalyzedImage {
  manifestBytes: Buffer;
  descriptor: Descriptor;
  config: StoredBlob;
  layers: StoredBlob[];
}

interface ArchiveImage {
  index: number;
  item: ManifestItem;
  analyzed?: Promise<AnalyzedImage>;
}

/** What open() learned about each image, without hashing anything. */
export interface ArchiveImageInfo {
  /** Position in manifest.json (what "@N" names). */
  index: number;
  repoTags: readonly string[];
  config: string;
  layers: readonly string[];
}

function parseManifestJson(bytes: Buffer, path: string): ManifestItem[] {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw invalidArchive(path, `manifest.json is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(value)) throw invalidArchive(path, "manifest.json must be a JSON array");
  return value.map((raw: unknown, i): ManifestItem => {
    const where = `manifest.json[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalidArchive(path, `${where} must be an object`);
    const obj = raw as Record<string, unknown>;
    const { Config: config, RepoTags: repoTags, Layers: layers } = obj;
    if (typeof config !== "string" || config === "") throw invalidArchive(path, `${where}.Config must be a file name`);
    const strings = (v: unknown, field: string): string[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw invalidArchive(path, `${where}.${field} must be an array of strings`);
      return v as string[];
    };
    return { Config: config, RepoTags: strings(repoTags, "RepoTags"), Layers: strings(layers, "Layers") };
  });
}

/** The regular file `name` names, following one symlink (relative to its directory, as skopeo does) or hard link. */
function regularFile(entries: ReadonlyMap<string, TarEntry>, name: string): TarEntry | undefined {
  const wanted = cleanTarPath(name);
  let entry = entries.get(wanted);
  if (entry?.type === "symlink" && entry.linkname !== undefined) {
    entry = entries.get(cleanTarPath(posix.join(posix.dirname(wanted), entry.linkname)));
  } else if (entry?.type === "link" && entry.linkname !== undefined) {
    entry = entries.get(cleanTarPath(entry.linkname));
  }
  return entry?.type === "file" ? entry : undefined;
}

/** The data of one tar entry, as a byte range of the file. */
function entryStream(path: string, entry: TarEntry, signal: AbortSignal | undefined): Readable {
  // createReadStream's `end` is inclusive; an empty entry needs no read at all.
  if (entry.size === 0) return Readable.from([]);
  return createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1, ...(signal ? { signal } : {}) });
}

export class ArchiveReader {
  private readonly images: ArchiveImage[];
  /** Digest -> stored blob, filled as images are analyzed. */
  private readonly blobs = new Map<string, StoredBlob>();
  /** Per tar entry (by data offset): its hash, computed once even when several images share it. */
  private readonly hashes = new Map<number, Promise<{ digest: string; magic: Buffer }>>();
  private readonly manifests = new Map<string, AnalyzedImage>();

  private constructor(
    readonly path: string,
    private readonly entries: ReadonlyMap<string, TarEntry>,
    items: readonly ManifestItem[],
  ) {
    this.images = items.map((item, index) => ({ index, item }));
  }

  static async open(path: string, options: StoreOptions): Promise<ArchiveReader> {
    const handle = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
      throw new QuaysideError("NOT_FOUND", `docker-archive:${path}: no such file`, { category: "not-found", cause: err });
    });
    try {
      const magic = Buffer.alloc(2);
      const { bytesRead } = await handle.read(magic, 0, magic.length, 0);
      if (bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
        throw invalidArchive(path, "the archive is gzip-compressed; decompress it first (gunzip) and open the .tar");
      }
    } finally {
      await handle.close();
    }
    const entries = new Map<string, TarEntry>();
    // The first entry of a name wins, as in skopeo's findTarComponent.
    for (const entry of await indexTar(path, options)) if (!entries.has(entry.name)) entries.set(entry.name, entry);
    const manifestEntry = regularFile(entries, MANIFEST_JSON);
    if (manifestEntry === undefined) {
      throw invalidArchive(path, "no manifest.json: not a docker-archive (the pre-1.10 legacy format without manifest.json is not supported)");
    }
    if (manifestEntry.size > MANIFEST_JSON_LIMIT) throw invalidArchive(path, `manifest.json is larger than ${MANIFEST_JSON_LIMIT} bytes`);
    const bytes = await readAll(entryStream(path, manifestEntry, options.signal), MANIFEST_JSON_LIMIT, `${path}: manifest.json`);
    const items = parseManifestJson(bytes, path);
    if (items.length === 0) throw invalidArchive(path, "manifest.json lists no images");
    return new ArchiveReader(path, entries, items);
  }

  info(): ArchiveImageInfo[] {
    return this.images.map(({ index, item }) => ({ index, repoTags: [...item.RepoTags], config: item.Config, layers: [...item.Layers] }));
  }

  private requireFile(name: string, image: ArchiveImage): TarEntry {
    const entry = regularFile(this.entries, name);
    if (entry === undefined) throw invalidArchive(this.path, `image @${image.index}: ${JSON.stringify(name)} is not a regular file in the archive`);
    return entry;
  }

  private hashEntry(entry: TarEntry, signal: AbortSignal | undefined): Promise<{ digest: string; magic: Buffer }> {
    let pending = this.hashes.get(entry.offset);
    if (pending === undefined) {
      pending = (async () => {
        const hasher = new DigestHasher("sha256");
        let magic = Buffer.alloc(0);
        for await (const chunk of entryStream(this.path, entry, signal) as AsyncIterable<Buffer>) {
          if (magic.length < 4) magic = Buffer.concat([magic, chunk.subarray(0, 4 - magic.length)]);
          hasher.update(chunk);
        }
        if (hasher.bytes !== entry.size) throw invalidArchive(this.path, `${entry.name}: read ${hasher.bytes} bytes, expected ${entry.size} (file changed?)`);
        return { digest: hasher.digest(), magic };
      })();
      // A failed (e.g. aborted) hash may be retried later.
      pending.catch(() => this.hashes.delete(entry.offset));
      this.hashes.set(entry.offset, pending);
    }
    return pending;
  }

  private analyze(image: ArchiveImage, signal: AbortSignal | undefined): Promise<AnalyzedImage> {
    if (image.analyzed === undefined) {
      const analyzed = this.analyzeNow(image, signal);
      analyzed.catch(() => {
        if (image.analyzed === analyzed) delete image.analyzed;
      });
      image.analyzed = analyzed;
    }
    return image.analyzed;
  }

  private async analyzeNow(image: ArchiveImage, signal: AbortSignal | undefined): Promise<AnalyzedImage> {
    const configEntry = this.requireFile(image.item.Config, image);
    const layerEntries = image.item.Layers.map((name) => this.requireFile(name, image));
    const configHash = await this.hashEntry(configEntry, signal);
    const layerHashes: { digest: string; magic: Buffer }[] = new Array(layerEntries.length);
    await forEachLimit(
      layerEntries.map((entry, i) => ({ entry, i })),
      HASH_JOBS,
      async ({ entry, i }) => {
        layerHashes[i] = await this.hashEntry(entry, signal);
      },
    );
    const config: StoredBlob = { entry: configEntry, descriptor: { mediaType: MediaType.DockerConfig, digest: configHash.digest, size: configEntry.size } };
    const layers: StoredBlob[] = layerEntries.map((entry, i) => {
      const hash = layerHashes[i] as { digest: string; magic: Buffer };
      return { entry, descriptor: { mediaType: layerMediaTypeOf(hash.magic), digest: hash.digest, size: entry.size } };
    });
    // Fixed key order and no whitespace: the same archive always yields the same bytes (and digest).
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestV2,
      config: { mediaType: config.descriptor.mediaType, size: config.descriptor.size, digest: config.descriptor.digest },
      layers: layers.map((l) => ({ mediaType: l.descriptor.mediaType, size: l.descriptor.size, digest: l.descriptor.digest })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest), "utf8");
    const analyzed: AnalyzedImage = {
      manifestBytes,
      descriptor: { mediaType: MediaType.DockerManifestV2, digest: digestOf(manifestBytes), size: manifestBytes.length },
      config,
      layers,
    };
    for (const blob of [config, ...layers]) if (!this.blobs.has(blob.descriptor.digest)) this.blobs.set(blob.descriptor.digest, blob);
    this.manifests.set(analyzed.descriptor.digest, analyzed);
    return analyzed;
  }

  private async analyzeAll(signal: AbortSignal | undefined): Promise<void> {
    for (const image of this.images) await this.analyze(image, signal);
  }

  private choose(reference: string): ArchiveImage {
    const notFound = (why: string): QuaysideError => new QuaysideError("MANIFEST_UNKNOWN", `docker-archive:${this.path}: ${why}`, { category: "not-found" });
    if (reference === "") {
      const only = this.images.length === 1 ? this.images[0] : undefined;
      if (only === undefined) throw notFound(`holds ${this.images.length} images: name one (repo:tag or @N)`);
      return only;
    }
    if (reference.startsWith("@")) {
      if (!/^@\d+$/.test(reference)) throw new InvalidReferenceError(reference, "reference", "source index must be @ followed by a non-negative integer");
      const image = this.images[Number(reference.slice(1))];
      if (image === undefined) throw notFound(`no image ${reference}: the archive holds ${this.images.length} (@0..@${this.images.length - 1})`);
      return image;
    }
    const wanted = normalizeRepoTag(reference).key;
    for (const image of this.images) {
      for (const tag of image.item.RepoTags) {
        let key: string;
        try {
          key = normalizeRepoTag(tag).key;
        } catch {
          key = tag;
        }
        if (key === wanted || tag === reference) return image;
      }
    }
    const known = this.images.flatMap((i) => i.item.RepoTags);
    throw notFound(`no image tagged ${reference} (tags: ${known.length > 0 ? known.join(", ") : "none"})`);
  }

  async resolve(reference: string, options: StoreOptions): Promise<Descriptor> {
    if (isDigest(reference)) {
      await this.analyzeAll(options.signal);
      const found = this.manifests.get(reference);
      if (found === undefined) throw new QuaysideError("MANIFEST_UNKNOWN", `docker-archive:${this.path}: no image with manifest digest ${reference}`, { category: "not-found" });
      return { ...found.descriptor };
    }
    return { ...(await this.analyze(this.choose(reference), options.signal)).descriptor };
  }

  /** The synthesized manifest of the image `reference` names (for callers that want it without fetch). */
  async manifestOf(reference: string, options: StoreOptions): Promise<ImageManifest> {
    const descriptor = await this.resolve(reference, options);
    const analyzed = this.manifests.get(descriptor.digest) as AnalyzedImage;
    return parseManifest(analyzed.manifestBytes, MediaType.DockerManifestV2) as ImageManifest;
  }

  private async lookup(digest: string, signal: AbortSignal | undefined): Promise<{ manifest?: AnalyzedImage; blob?: StoredBlob }> {
    let manifest = this.manifests.get(digest);
    let blob = this.blobs.get(digest);
    if (manifest === undefined && blob === undefined) {
      await this.analyzeAll(signal);
      manifest = this.manifests.get(digest);
      blob = this.blobs.get(digest);
    }
    return { ...(manifest ? { manifest } : {}), ...(blob ? { blob } : {}) };
  }

  async fetch(descriptor: Descriptor, options: StoreOptions): Promise<Readable> {
    const { manifest, blob } = await this.lookup(descriptor.digest, options.signal);
    const what = `docker-archive:${this.path}: ${descriptor.digest}`;
    if (manifest !== undefined && (blob === undefined || isManifestMediaType(descriptor.mediaType))) {
      const bytes = manifest.manifestBytes;
      if (descriptor.size !== bytes.length) throw new SizeMismatchError(descriptor.size, bytes.length, what);
      return bytesStream(bytes);
    }
    if (blob !== undefined) {
      const verifier = createVerifyingStream(descriptor.digest, { expectedSize: descriptor.size, what });
      // The callback form destroys the verifier with the source's error, so the consumer sees it.
      pipelineCallback(entryStream(this.path, blob.entry, options.signal), verifier, () => undefined);
      return verifier;
    }
    throw new QuaysideError(isManifestMediaType(descriptor.mediaType) ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN", `${what} is not in the archive`, { category: "not-found" });
  }

  async exists(descriptor: Descriptor, options: StoreOptions): Promise<boolean> {
    const { manifest, blob } = await this.lookup(descriptor.digest, options.signal);
    return manifest !== undefined || blob !== undefined;
  }
}
