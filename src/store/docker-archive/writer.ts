/** Writing a docker-archive: entries streamed one at a time into a temp file, manifest.json on close, then renamed into place. */
import { close as closeFd, constants, createWriteStream, open as openFd, type WriteStream } from "node:fs";
import { link, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import * as tar from "tar-stream";
import { createVerifyingStream, digestOf, isDigest, parseDigest } from "../../digest/digest.js";
import { DigestMismatchError, QuaysideError, SizeMismatchError } from "../../errors.js";
import { isImage, parseManifest, type ImageManifest } from "../../media/manifest.js";
import { isIndexMediaType, isManifestMediaType, isSchema1MediaType, normalizeMediaType, type Descriptor } from "../../media/types.js";
import { removeStaleTemporaries, temporaryPathFor } from "../../util/atomic-file.js";
import { MANIFEST_SIZE_LIMIT } from "../../util/limits.js";
import { bytesStream, readAll, toReadable } from "../../util/streams.js";
import { discardContent, type PushOptions } from "../store.js";
import { EPOCH, INDEX_MESSAGE, MANIFEST_JSON, REPOSITORIES, type RepoTag, blobEntryName, isConfigMediaType, isNonImageBlob, normalizeRepoTag, unsupported } from "./format.js";
import type { ManifestItem } from "./reader.js";

// ---------------------------------------------------------------------------------------------
// Writing

interface PendingImage {
  manifest: ImageManifest;
  descriptor: Descriptor;
  tags: RepoTag[];
}

type WriterState = "open" | "closing" | "closed" | "failed" | "aborted";

/** A temporary archive untouched this long is no live writer's (file times may also lag the clock a little). */
const STALE_TEMPORARY_MS = 1000;

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

export class ArchiveWriter {
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
    // What a killed run left for this archive; a live writer of it would have touched it since.
    await removeStaleTemporaries(dirname(path), Date.now() - STALE_TEMPORARY_MS, basename(path));
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
      discardContent(content);
      throw err;
    }
    const mediaType = normalizeMediaType(descriptor.mediaType);
    if (isIndexMediaType(mediaType)) {
      discardContent(content);
      throw unsupported(INDEX_MESSAGE);
    }
    if (isManifestMediaType(mediaType)) return this.pushManifest(descriptor, content, mediaType);
    if (isNonImageBlob(mediaType)) {
      discardContent(content);
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
      discardContent(content);
      throw unsupported("docker-archive cannot store Docker schema 1 images; convert to schema 2 first");
    }
    const bytes = content instanceof Uint8Array ? content : await readAll(content, MANIFEST_SIZE_LIMIT, `manifest ${descriptor.digest}`);
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
      discardContent(content);
      this.assertOpen();
    }
    if (this.written.has(descriptor.digest)) {
      discardContent(content); // pushed twice (e.g. a layer shared by two images copied at once): one entry is enough
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
    return bytesStream(image.manifest.bytes);
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
