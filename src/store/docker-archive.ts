/**
 * A `docker save` tarball ("docker-archive", as skopeo's docker-archive:PATH[:REF] transport and
 * `docker load` read and write it) as a Store.
 *
 * The format: a tar holding manifest.json = [{"Config":"<file>","RepoTags":["repo:tag"],"Layers":["<file>",...]}],
 * each image's config JSON file, one file per layer, and the legacy `repositories` file. There
 * are no manifests in it: a reader synthesizes one per manifest.json entry.
 *
 * Reading (DockerArchiveStore.open): the tar is indexed once (headers only). For each image a
 * Docker schema 2 manifest is synthesized from the files AS STORED: config digest = sha256 of the
 * config file, each layer's digest/size = sha256/size of its file, media type gzip or plain tar by
 * the file's magic bytes. Layers are hashed (streamed) the first time an image is resolved, once.
 * Blobs are served as byte ranges of the tar file, verified on the way.
 *
 * Writing (DockerArchiveStore.create): entries are streamed, one at a time, through tar-stream
 * into a temporary file beside the target; close() writes manifest.json and `repositories`,
 * fsyncs and renames into place. Layers are stored as pushed (a registry's compressed blob,
 * byte for byte), so reading the archive back yields the registry's exact layer and config digests.
 */
import { close as closeFd, constants, createReadStream, createWriteStream, open as openFd, type WriteStream } from "node:fs";
import { link, open, rename, stat, unlink } from "node:fs/promises";
import { dirname, posix } from "node:path";
import { Readable, Writable, pipeline as pipelineCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import * as tar from "tar-stream";
import { DigestHasher, createVerifyingStream, digestOf, isDigest, parseDigest } from "../digest/digest.js";
import { DigestMismatchError, InvalidReferenceError, QuaysideError, SizeMismatchError } from "../errors.js";
import { isImage, parseManifest, type ImageManifest } from "../media/manifest.js";
import {
  MediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  normalizeMediaType,
  type Descriptor,
} from "../media/types.js";
import { parseReference } from "../ref/reference.js";
import { temporaryPathFor } from "../util/atomic-file.js";
import { forEachLimit } from "../util/limit.js";
import { readAll } from "../util/read-all.js";
import { cleanTarPath, indexTar, type TarEntry } from "../util/tar-index.js";
import type { PushOptions, Store, StoreOptions } from "./store.js";

/** Media type of an uncompressed Docker layer (docker save stores layers this way). */
export const DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

const MANIFEST_JSON = "manifest.json";
const REPOSITORIES = "repositories";
const MANIFEST_JSON_LIMIT = 8 * 1024 * 1024;
const MANIFEST_LIMIT = 4 * 1024 * 1024;
const HASH_JOBS = 4;
/** Entries get a fixed mtime (as skopeo writes them) so the same content makes the same archive. */
const EPOCH = new Date(0);

// ---------------------------------------------------------------------------------------------
// Locations: docker-archive:PATH[:REF]

export interface ArchiveLocation {
  path: string;
  /**
   * What follows the path: "@N" (a zero-based index into manifest.json, sources only) or a
   * "repo:tag" name (":latest" appended when no tag was given, as skopeo does). Undefined: the
   * archive's only image (source) or an untagged image (destination).
   */
  reference?: string;
}

/**
 * Parse "docker-archive:PATH[:REF]" (the "docker-archive:" prefix may be omitted) the way skopeo
 * does: the path ends at the FIRST ':' (so a path cannot contain ':'), the rest is "@N" or a
 * tagged name; digest references are refused.
 */
export function parseArchiveLocation(text: string): ArchiveLocation {
  const body = text.startsWith("docker-archive:") ? text.slice("docker-archive:".length) : text;
  if (body === "") throw new InvalidReferenceError(text, "reference", "is not of the form docker-archive:PATH[:REF]");
  const colon = body.indexOf(":");
  if (colon < 0) return { path: body };
  const path = body.slice(0, colon);
  const reference = body.slice(colon + 1);
  if (path === "") throw new InvalidReferenceError(text, "reference", "has an empty path");
  return { path, reference: parseArchiveReference(reference, text) };
}

function parseArchiveReference(reference: string, input: string): string {
  if (reference.startsWith("@")) {
    if (!/^@\d+$/.test(reference)) throw new InvalidReferenceError(input, "reference", `source index ${JSON.stringify(reference)} must be @ followed by a non-negative integer`);
    return `@${Number(reference.slice(1))}`;
  }
  return normalizeRepoTag(reference, input).text;
}

interface RepoTag {
  /** As given, ":latest" appended when no tag was given. Written into RepoTags. */
  text: string;
  /** Fully normalized ("docker.io/library/x:latest"), for comparisons. */
  key: string;
  /** `text` without its ":tag" (the `repositories` key). */
  repository: string;
  tag: string;
}

/** A "repo[:tag]" name for RepoTags. No digests: docker-archive cannot name images by digest. */
function normalizeRepoTag(text: string, input = text): RepoTag {
  if (text === "") throw new InvalidReferenceError(input, "reference", "is empty (expected repo:tag)");
  if (text.includes("@")) throw new InvalidReferenceError(input, "digest", "is not supported: docker-archive names images by repo:tag only");
  const parsed = parseReference(text);
  const hasTag = text.slice(text.lastIndexOf("/") + 1).includes(":");
  const full = hasTag ? text : `${text}:${parsed.tag ?? "latest"}`;
  const cut = full.lastIndexOf(":");
  return { text: full, key: parsed.toString(), repository: full.slice(0, cut), tag: full.slice(cut + 1) };
}

// ---------------------------------------------------------------------------------------------
// Errors

function unsupported(message: string): QuaysideError {
  return new QuaysideError("UNSUPPORTED_IN_ARCHIVE", message, { category: "invalid-input" });
}

function invalidArchive(path: string, message: string): QuaysideError {
  return new QuaysideError("INVALID_ARCHIVE", `${path}: ${message}`, { category: "invalid-input" });
}

const INDEX_MESSAGE =
  "docker-archive holds single-platform images only: an image index / manifest list cannot be stored; pick one platform (e.g. --platform linux/amd64)";

// ---------------------------------------------------------------------------------------------
// Helpers

const CONFIG_MEDIA_TYPES = new Set<string>([MediaType.DockerConfig, MediaType.OciConfig]);

function isConfigMediaType(mediaType: string): boolean {
  return CONFIG_MEDIA_TYPES.has(normalizeMediaType(mediaType));
}

/** Blobs that are neither image config nor filesystem layer (artifact configs, signatures, attestations). */
function isNonImageBlob(mediaType: string): boolean {
  const mt = normalizeMediaType(mediaType);
  return mt === MediaType.OciEmpty || (mt.endsWith("+json") && !isConfigMediaType(mt)) || mt.endsWith("+jwt");
}

/** The tar entry name a pushed blob gets: "<hex>.json" for configs, "<hex>.tar[.gz|.zst]" for layers. */
function blobEntryName(descriptor: Descriptor): string {
  const { hex } = parseDigest(descriptor.digest);
  const mt = normalizeMediaType(descriptor.mediaType);
  if (isConfigMediaType(mt)) return `${hex}.json`;
  if (/gzip$/.test(mt)) return `${hex}.tar.gz`;
  if (/zstd$/.test(mt)) return `${hex}.tar.zst`;
  return `${hex}.tar`;
}

function layerMediaTypeOf(magic: Buffer): string {
  if (magic.length >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) return MediaType.DockerLayer;
  if (magic.length >= 4 && magic.readUInt32BE(0) === 0x28b52ffd) return MediaType.OciLayerZstd;
  return DOCKER_LAYER_TAR;
}

function toReadable(content: Readable | Uint8Array): Readable {
  if (!(content instanceof Uint8Array)) return content;
  return Readable.from([Buffer.from(content.buffer, content.byteOffset, content.byteLength)]);
}

function discard(content: Readable | Uint8Array): void {
  if (!(content instanceof Uint8Array)) content.destroy();
}

// ---------------------------------------------------------------------------------------------
// Reading

interface ManifestItem {
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

class ArchiveReader {
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
      return Readable.from([bytes]);
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

// ---------------------------------------------------------------------------------------------
// Writing

interface PendingImage {
  manifest: ImageManifest;
  descriptor: Descriptor;
  tags: RepoTag[];
}

type WriterState = "open" | "closing" | "closed" | "failed" | "aborted";

/** Resolves on 'drain' of a tar-stream entry (a streamx Writable); rejects if it errors or closes first. */
function drained(stream: ReturnType<tar.Pack["entry"]>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off("drain", onDrain);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onDrain = (): void => (cleanup(), resolve());
    const onError = (err: Error): void => (cleanup(), reject(err));
    const onClose = (): void => (cleanup(), reject(new Error("tar entry closed before it drained")));
    stream.on("drain", onDrain);
    stream.on("error", onError);
    stream.on("close", onClose);
  });
}

class ArchiveWriter {
  private state: WriterState = "open";
  private failure: unknown;
  /** Digest -> entry name, for blobs completely written. */
  private readonly written = new Map<string, string>();
  /** Image manifests pushed, by digest, in push order. */
  private readonly images = new Map<string, PendingImage>();
  /** Entries are written one at a time: each push waits for the one before. */
  private queue: Promise<void> = Promise.resolve();
  /** Aborts the entry being written (abort(), or the archive failed). */
  private current: AbortController | undefined;
  private cleaning: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    readonly temporary: string,
    private readonly out: WriteStream,
    private readonly pack: tar.Pack,
    /** Settles when the pack has been written to the file (or failed). */
    private readonly done: Promise<void>,
    private readonly overwrite: boolean,
  ) {}

  static async create(path: string, overwrite: boolean): Promise<ArchiveWriter> {
    if (!overwrite) {
      const existing = await stat(path).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
      if (existing !== undefined) throw new QuaysideError("FILE_EXISTS", `${path} already exists (docker-archive does not modify existing archives)`, { category: "invalid-input" });
    }
    const temporary = temporaryPathFor(path);
    // Opened here (not lazily by the stream) so that a failure to create the file fails create().
    const fd = await promisify(openFd)(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    let out: WriteStream;
    try {
      // flush: fsync before the descriptor is closed, so the rename in close() publishes durable bytes.
      out = createWriteStream(temporary, { fd, flush: true });
    } catch (err) {
      await promisify(closeFd)(fd).catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw err;
    }
    const pack = tar.pack();
    const done = pipeline(pack, out);
    done.catch(() => undefined); // observed by close()/abort(); never an unhandled rejection
    return new ArchiveWriter(path, temporary, out, pack, done, overwrite);
  }

  private assertOpen(): void {
    if (this.state === "open") return;
    if (this.state === "failed") throw this.brokenError();
    throw new QuaysideError("ARCHIVE_CLOSED", `docker-archive:${this.path} is ${this.state === "aborted" ? "aborted" : "closed"}`, { category: "other" });
  }

  private brokenError(): QuaysideError {
    const reason = this.failure instanceof Error ? this.failure.message : String(this.failure);
    return new QuaysideError("ARCHIVE_FAILED", `docker-archive:${this.path}: an earlier write failed, the archive is unusable (${reason})`, { cause: this.failure });
  }

  exists(descriptor: Descriptor): boolean {
    return this.written.has(descriptor.digest) || this.images.has(descriptor.digest);
  }

  async push(descriptor: Descriptor, content: Readable | Uint8Array, options: PushOptions): Promise<void> {
    try {
      this.assertOpen();
    } catch (err) {
      discard(content);
      throw err;
    }
    const mediaType = normalizeMediaType(descriptor.mediaType);
    if (isIndexMediaType(mediaType)) {
      discard(content);
      throw unsupported(INDEX_MESSAGE);
    }
    if (isManifestMediaType(mediaType)) return this.pushManifest(descriptor, content, mediaType);
    if (isNonImageBlob(mediaType)) {
      discard(content);
      throw unsupported(`docker-archive holds container images only; cannot store a blob of type ${mediaType}`);
    }
    const run = this.queue.then(() => this.writeBlob(descriptor, content, options));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Image manifests are not files in a docker-archive: remembered, verified, and turned into manifest.json at close(). */
  private async pushManifest(descriptor: Descriptor, content: Readable | Uint8Array, mediaType: string): Promise<void> {
    if (isSchema1MediaType(mediaType)) {
      discard(content);
      throw unsupported("docker-archive cannot store Docker schema 1 images; convert to schema 2 first");
    }
    const bytes = content instanceof Uint8Array ? content : await readAll(content, MANIFEST_LIMIT, `manifest ${descriptor.digest}`);
    const what = `manifest ${descriptor.digest}`;
    if (bytes.byteLength !== descriptor.size) throw new SizeMismatchError(descriptor.size, bytes.byteLength, what);
    const actual = digestOf(bytes, parseDigest(descriptor.digest).algorithm);
    if (actual !== descriptor.digest) throw new DigestMismatchError(descriptor.digest, actual, what);
    const manifest = parseManifest(bytes, mediaType);
    if (!isImage(manifest)) throw unsupported(INDEX_MESSAGE);
    if (!isConfigMediaType(manifest.config.mediaType)) {
      throw unsupported(`docker-archive holds container images only; ${descriptor.digest} is an artifact (config type ${manifest.config.mediaType})`);
    }
    this.assertOpen();
    if (!this.images.has(descriptor.digest)) {
      this.images.set(descriptor.digest, { manifest, descriptor: { mediaType: manifest.mediaType, digest: descriptor.digest, size: descriptor.size }, tags: [] });
    }
  }

  private async writeBlob(descriptor: Descriptor, content: Readable | Uint8Array, options: PushOptions): Promise<void> {
    // Pushes queued before close() are still written; anything after a failure or abort() is not.
    if (this.state !== "open" && this.state !== "closing") {
      discard(content);
      this.assertOpen();
    }
    if (this.written.has(descriptor.digest)) {
      discard(content); // pushed twice (e.g. a layer shared by two images copied at once): one entry is enough
      return;
    }
    const name = blobEntryName(descriptor);
    const controller = new AbortController();
    this.current = controller;
    const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
    const verifier = createVerifyingStream(descriptor.digest, { expectedSize: descriptor.size, what: `blob ${descriptor.digest}` });
    try {
      await pipeline(toReadable(content), verifier, this.entrySink(name, descriptor.size, options.onProgress), { signal });
      this.written.set(descriptor.digest, name);
    } catch (err) {
      // Part of the entry may be in the tar already: the archive cannot be completed. Discard it now.
      await this.fail(err);
      throw err;
    } finally {
      if (this.current === controller) this.current = undefined;
    }
  }

  /** A Node Writable that feeds one tar-stream entry, with backpressure; finishes when the entry is complete. */
  private entrySink(name: string, size: number, onProgress: ((bytes: number) => void) | undefined): Writable {
    let entryDone!: Promise<void>;
    let entry!: ReturnType<tar.Pack["entry"]>;
    entryDone = new Promise<void>((resolve, reject) => {
      entry = this.pack.entry({ name, size, mode: 0o644, mtime: EPOCH, type: "file" }, (err) => (err ? reject(err) : resolve()));
    });
    entryDone.catch(() => undefined);
    // A destroyed entry also emits 'error'; its failure already arrives through the entry callback and the pipeline.
    entry.on("error", () => undefined);
    let bytes = 0;
    let finished = false;
    return new Writable({
      write(chunk: Buffer, _encoding, callback): void {
        bytes += chunk.length;
        onProgress?.(bytes);
        if (entry.write(chunk)) callback();
        else drained(entry).then(() => callback(), callback);
      },
      final(callback): void {
        entry.end(null); // streamx: end(data?) — the types demand an argument
        entryDone.then(() => {
          finished = true;
          callback();
        }, callback);
      },
      destroy(err, callback): void {
        // An unfinished entry corrupts the tar: destroying it destroys the whole pack (tar-stream does).
        if (!finished) entry.destroy(err ?? new Error("tar entry aborted"));
        callback(err);
      },
    });
  }

  private writeSmallEntry(name: string, bytes: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pack.entry({ name, size: bytes.length, mode: 0o644, mtime: EPOCH, type: "file" }, bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  private async fail(err: unknown): Promise<void> {
    if (this.state === "open" || this.state === "closing") {
      this.state = "failed";
      this.failure = err;
    }
    await this.discardFiles(err);
  }

  /** Stop writing and remove the temporary file (once). */
  private discardFiles(reason: unknown): Promise<void> {
    this.cleaning ??= (async () => {
      this.current?.abort(reason);
      this.pack.destroy(reason instanceof Error ? reason : new Error(String(reason)));
      this.out.destroy();
      await this.done.catch(() => undefined);
      await this.closed();
      await unlink(this.temporary).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
    })();
    return this.cleaning;
  }

  tag(descriptor: Descriptor, tag: string): void {
    this.assertOpen();
    const image = this.images.get(descriptor.digest);
    if (image === undefined) {
      if (isIndexMediaType(descriptor.mediaType)) throw unsupported(INDEX_MESSAGE);
      throw new QuaysideError("MANIFEST_UNKNOWN", `docker-archive:${this.path}: tag ${tag}: manifest ${descriptor.digest} was not pushed here`, { category: "not-found" });
    }
    const repoTag = normalizeRepoTag(tag);
    // A name belongs to one image: tagging another image moves it (as docker does).
    for (const other of this.images.values()) other.tags = other.tags.filter((t) => t.key !== repoTag.key);
    image.tags.push(repoTag);
  }

  resolve(reference: string): Descriptor {
    if (isDigest(reference)) {
      const image = this.images.get(reference);
      if (image) return { ...image.descriptor };
    } else if (reference !== "") {
      const wanted = reference.startsWith("@") ? undefined : normalizeRepoTag(reference).key;
      const list = [...this.images.values()];
      const image = wanted === undefined ? list[Number(reference.slice(1))] : list.find((i) => i.tags.some((t) => t.key === wanted));
      if (image) return { ...image.descriptor };
    } else if (this.images.size === 1) {
      return { ...(this.images.values().next().value as PendingImage).descriptor };
    }
    throw new QuaysideError("MANIFEST_UNKNOWN", `docker-archive:${this.path}: nothing named ${JSON.stringify(reference)} written yet`, { category: "not-found" });
  }

  fetchManifest(descriptor: Descriptor): Readable {
    const image = this.images.get(descriptor.digest);
    if (image === undefined) {
      throw new QuaysideError("UNSUPPORTED_IN_ARCHIVE", `docker-archive:${this.path} is being written: only its manifests can be read back before close()`, { category: "invalid-input" });
    }
    return Readable.from([Buffer.from(image.manifest.bytes)]);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.assertOpen();
    this.state = "closing";
    await this.queue;
    if (this.state !== "closing") {
      await this.cleaning;
      throw this.brokenError();
    }
    try {
      const { manifestJson, repositories } = this.index();
      await this.writeSmallEntry(MANIFEST_JSON, Buffer.from(JSON.stringify(manifestJson), "utf8"));
      await this.writeSmallEntry(REPOSITORIES, Buffer.from(JSON.stringify(repositories), "utf8"));
      this.pack.finalize();
      await this.done;
      await this.closed(); // fsync'd and closed (flush: true)
      await this.commit();
      this.state = "closed";
    } catch (err) {
      await this.fail(err);
      throw err;
    }
  }

  /** Resolves once the file descriptor is closed (after its fsync). */
  private closed(): Promise<void> {
    if (this.out.closed) return Promise.resolve();
    return new Promise<void>((resolve) => this.out.once("close", () => resolve()));
  }

  /** manifest.json (one item per pushed image manifest, in push order) and the legacy `repositories`. */
  private index(): { manifestJson: ManifestItem[]; repositories: Record<string, Record<string, string>> } {
    if (this.images.size === 0) {
      throw new QuaysideError("EMPTY_ARCHIVE", `docker-archive:${this.path}: no image manifest was pushed, nothing to write`, { category: "invalid-input" });
    }
    const fileOf = (d: Descriptor, image: PendingImage): string => {
      const name = this.written.get(d.digest);
      if (name === undefined) {
        throw new QuaysideError("INCOMPLETE_ARCHIVE", `docker-archive:${this.path}: image ${image.descriptor.digest} references ${d.digest}, which was never pushed`, { category: "other" });
      }
      return name;
    };
    const manifestJson: ManifestItem[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const image of this.images.values()) {
      const item: ManifestItem = { Config: fileOf(image.manifest.config, image), RepoTags: image.tags.map((t) => t.text), Layers: image.manifest.layers.map((l) => fileOf(l, image)) };
      // Two manifests of one image (e.g. its OCI and Docker forms) are one docker-archive image, as skopeo writes them.
      const same = manifestJson.find((m) => m.Config === item.Config && m.Layers.join("\0") === item.Layers.join("\0"));
      if (same) same.RepoTags.push(...item.RepoTags.filter((t) => !same.RepoTags.includes(t)));
      else manifestJson.push(item);
      // Legacy field: repo -> tag -> top layer id. Without legacy per-layer directories there are no
      // v1 ids; the top layer's file name (sans extension) is used. `docker load` and skopeo read manifest.json.
      const top = image.manifest.layers.at(-1);
      if (top === undefined) continue;
      for (const t of image.tags) (repositories[t.repository] ??= {})[t.tag] = parseDigest(top.digest).hex;
    }
    return { manifestJson, repositories };
  }

  /** Move the finished temp file into place; without overwrite, never replace a file that appeared meanwhile. */
  private async commit(): Promise<void> {
    if (this.overwrite) {
      await rename(this.temporary, this.path);
    } else {
      try {
        await link(this.temporary, this.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw new QuaysideError("FILE_EXISTS", `${this.path} already exists (docker-archive does not modify existing archives)`, { category: "invalid-input" });
        // No hard links on this filesystem: fall back to a checked rename.
        if (await stat(this.path).then(() => true, () => false)) throw new QuaysideError("FILE_EXISTS", `${this.path} already exists`, { category: "invalid-input" });
        await rename(this.temporary, this.path);
        await syncDirectory(dirname(this.path));
        return;
      }
      await unlink(this.temporary);
    }
    await syncDirectory(dirname(this.path));
  }

  async abort(): Promise<void> {
    if (this.state === "closed") return; // committed: nothing half-written to discard
    if (this.state === "open" || this.state === "closing") {
      this.state = "aborted";
      this.failure ??= new QuaysideError("ABORTED", `docker-archive:${this.path}: aborted`);
    }
    await this.discardFiles(this.failure);
    await this.queue;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename itself has happened.
  }
}

// ---------------------------------------------------------------------------------------------
// The store

export interface CreateArchiveOptions {
  /** Replace an existing file at the path on close(). Default false: refuse (as skopeo does). */
  overwrite?: boolean;
}

/**
 * A docker-archive tarball as a Store: read-only when opened, write-only when created.
 *
 * Writing, in the order a copy needs: push blobs (configs and layers; serialized, verified),
 * push the image manifest (kept in memory), tag("repo:tag"), then close() to commit — nothing
 * appears at `path` before close() succeeds. After any failure call abort(): it removes the
 * temporary file (a failed push has already done so).
 */
export class DockerArchiveStore implements Store {
  readonly location: string;

  private constructor(
    readonly path: string,
    readonly mode: "read" | "write",
    private readonly reader: ArchiveReader | undefined,
    private readonly writer: ArchiveWriter | undefined,
  ) {
    this.location = `docker-archive:${path}`;
  }

  /** Open an existing archive for reading: indexes the tar (headers only) and reads manifest.json. */
  static async open(path: string, options: StoreOptions = {}): Promise<DockerArchiveStore> {
    return new DockerArchiveStore(path, "read", await ArchiveReader.open(path, options), undefined);
  }

  /** Start writing a new archive (to a temporary file beside `path`; close() moves it into place). */
  static async create(path: string, options: CreateArchiveOptions = {}): Promise<DockerArchiveStore> {
    return new DockerArchiveStore(path, "write", undefined, await ArchiveWriter.create(path, options.overwrite ?? false));
  }

  /** Read mode: the images manifest.json lists, in order ("@N" is images()[N]). */
  images(): ArchiveImageInfo[] {
    return this.reader?.info() ?? [];
  }

  /**
   * A tag ("repo:tag", normalized: "x:1" matches "docker.io/library/x:1"), "@N" (zero-based
   * position in manifest.json), "" (the only image), or a synthesized manifest's digest.
   */
  async resolve(reference: string, options: StoreOptions = {}): Promise<Descriptor> {
    if (this.reader) return this.reader.resolve(reference, options);
    return this.requireWriter().resolve(reference);
  }

  /** Read mode: the synthesized Docker schema 2 manifest of an image, parsed. */
  async manifest(reference: string, options: StoreOptions = {}): Promise<ImageManifest> {
    if (!this.reader) throw new QuaysideError("UNSUPPORTED_IN_ARCHIVE", `${this.location} is open for writing`, { category: "invalid-input" });
    return this.reader.manifestOf(reference, options);
  }

  async fetch(descriptor: Descriptor, options: StoreOptions = {}): Promise<Readable> {
    if (this.reader) return this.reader.fetch(descriptor, options);
    return this.requireWriter().fetchManifest(descriptor);
  }

  async exists(descriptor: Descriptor, options: StoreOptions = {}): Promise<boolean> {
    if (this.reader) return this.reader.exists(descriptor, options);
    return this.requireWriter().exists(descriptor);
  }

  async push(descriptor: Descriptor, content: Readable | Uint8Array, options: PushOptions = {}): Promise<void> {
    const writer = this.writer;
    if (!writer) {
      discard(content);
      throw this.readOnly();
    }
    return writer.push(descriptor, content, options);
  }

  /** Record `tag` ("repo:tag"; ":latest" when no tag; no digests) in RepoTags for a pushed image manifest. */
  async tag(descriptor: Descriptor, tag: string, _options: StoreOptions = {}): Promise<void> {
    this.requireWriter().tag(descriptor, tag);
  }

  /** Write mode: wait for queued pushes, write manifest.json + repositories, fsync, move into place. Read mode: no-op. */
  async close(): Promise<void> {
    await this.writer?.close();
  }

  /** Write mode: discard the unfinished archive (no file at path, no temp file). Read mode: no-op. */
  async abort(): Promise<void> {
    await this.writer?.abort();
  }

  private requireWriter(): ArchiveWriter {
    if (!this.writer) throw this.readOnly();
    return this.writer;
  }

  private readOnly(): QuaysideError {
    return new QuaysideError("READ_ONLY", `${this.location} was opened for reading; create a new archive to write`, { category: "invalid-input" });
  }
}
