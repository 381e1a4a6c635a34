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
import { Readable } from "node:stream";
import { QuaysideError } from "../errors.js";
import type { ImageManifest } from "../media/manifest.js";
import type { Descriptor } from "../media/types.js";
import { discardContent, holdContent, type PushContent, type PushOptions, type Store, type StoreCapabilities, type StoreOptions } from "./store.js";
import { ArchiveReader, type ArchiveImageInfo } from "./docker-archive/reader.js";
import { ArchiveWriter } from "./docker-archive/writer.js";

export { DOCKER_LAYER_TAR, parseArchiveLocation, type ArchiveLocation } from "./docker-archive/format.js";
export type { ArchiveImageInfo } from "./docker-archive/reader.js";

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
  readonly capabilities: StoreCapabilities;

  private constructor(
    readonly path: string,
    readonly mode: "read" | "write",
    private readonly reader: ArchiveReader | undefined,
    private readonly writer: ArchiveWriter | undefined,
  ) {
    this.location = `docker-archive:${path}`;
    // One platform per image, no referrers; names are listed once the archive is read.
    this.capabilities = { indexes: false, referrers: false, tags: mode === "read" };
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

  /** Read mode: the RepoTags of every image, in manifest.json order, each once. */
  async *tags(_options: StoreOptions = {}): AsyncIterable<string> {
    yield* new Set(this.images().flatMap((image) => image.repoTags));
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

  async push(descriptor: Descriptor, content: PushContent, options: PushOptions = {}): Promise<void> {
    const writer = this.writer;
    if (!writer) {
      discardContent(content);
      throw this.readOnly();
    }
    // Pushes wait their turn in a queue: a stream failing meanwhile keeps its error for its turn.
    return writer.push(descriptor, await holdContent(content), options);
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
