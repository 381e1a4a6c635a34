/**
 * An OCI image layout directory as a Store (image-spec image-layout.md):
 *
 *   DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   DIR/index.json            an OCI image index; tags are entries annotated org.opencontainers.image.ref.name
 *   DIR/blobs/<alg>/<hex>     every blob and every manifest, named by its digest
 *
 * The same layout skopeo (`oci:DIR:TAG`) and umoci (`DIR:TAG`) read and write. Blobs are streamed
 * (never held in memory) into a dot-file ending ".partial" beside their final name and renamed into
 * place only once their digest and size verified. index.json is rewritten whole, atomically, by tag().
 * Such dot-files that a killed run left are removed by the next run that writes beside them.
 */
import { constants as fsConstants, type Stats } from "node:fs";
import { link, mkdir, open, readFile, realpath, stat, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve as resolvePath } from "node:path";
import { addAbortSignal, pipeline, type Readable } from "node:stream";
import { createVerifyingStream, explainInvalidDigest, isDigest, parseDigest } from "../digest/digest.js";
import { InvalidReferenceError, ManifestError, QuaysideError, SizeMismatchError } from "../errors.js";
import { parseManifest, referrerDescriptor, subjectOf, withReferrer, type Manifest, type OciIndex } from "../media/manifest.js";
import { isManifestMediaType, MediaType, type Descriptor } from "../media/types.js";
import { isValidTag } from "../ref/reference.js";
import { removeStaleTemporaries, temporaryPathFor, writeStreamAtomic } from "../util/atomic-file.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { bytesStream, countingStream, readAll, toReadable } from "../util/streams.js";
import { holdContent, type PushContent, type PushOptions, type Store, type StoreCapabilities, type StoreOptions } from "./store.js";

/** The annotation that names an index.json entry (a "tag" of the layout). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
export const OCI_LAYOUT_VERSION = "1.0.0";

/** index.json is read whole; refuse absurd ones rather than exhaust memory. */
const INDEX_LIMIT = 64 * 1024 * 1024;
/** Names listed in a tag-not-found message. */
const NAMES_IN_MESSAGE = 10;
/**
 * A temporary file untouched for this long before a store opened is no live writer's: one that
 * is still writing touches it as it goes. (Also covers file times that lag the clock a little.)
 */
const STALE_TEMPORARY_MS = 1000;

// org.opencontainers.image.ref.name grammar (image-spec annotations.md):
//   ref ::= component ("/" component)* ; component ::= alphanum (separator alphanum)*
//   alphanum ::= [A-Za-z0-9]+ ; separator ::= [-._:@+] | "--"
const REF_COMPONENT = "[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*";
const REF_NAME = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

/** Is `name` usable as a layout tag (the ref.name grammar, which skopeo also enforces)? */
export function isValidLayoutTag(name: string): boolean {
  return REF_NAME.test(name);
}

/** A layout that is not one (no/garbled oci-layout or index.json, unsupported version). */
export class InvalidLayoutError extends QuaysideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_LAYOUT", message, { ...options, category: "invalid-input" });
  }
}

function notFound(message: string, cause?: unknown): QuaysideError {
  return new QuaysideError("NOT_FOUND", message, { category: "not-found", ...(cause === undefined ? {} : { cause }) });
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

// ---------------------------------------------------------------------------------------------
// "oci:PATH[:TAG]" / "oci:PATH@DIGEST"

export interface OciLocation {
  /** The layout directory, as written (may be relative). */
  path: string;
  /** A tag or a digest ("sha256:..."), when one was given. */
  reference?: string;
}

const DIGEST_AT_END = /:((?:sha256|sha512):[^:@/]*)$/;

/**
 * Splits "oci:PATH[:TAG]" or "oci:PATH@DIGEST" (also "oci:PATH:DIGEST"). The rule:
 *
 * 1. "oci:" is required.
 * 2. A digest at the end, after "@" or ":" ("...@sha256:<hex>", "...:sha256:<hex>"), is the reference.
 *    Something that starts like one ("@sha256:", ":sha256:") but is not a valid digest is an error, not a path.
 * 3. Otherwise the text after the LAST ":" is a tag if it is a valid Docker tag
 *    ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, so no "/" and no ":"); an empty one ("oci:DIR:") means no tag.
 * 4. Otherwise there is no reference and everything after "oci:" is the path.
 *
 * So a directory whose name contains ":" works when a tag is given ("oci:/tmp/a:b:latest" is
 * /tmp/a:b, tag latest) and, without a tag, when written with a trailing "/" ("oci:/tmp/a:b/").
 * skopeo differs: it splits at the FIRST ":" (so its paths cannot contain ":") and its names may
 * be any ref.name ("oci:DIR:example.com/app:v1"); such names are reachable here through the API
 * (OciLayoutStore.resolve / tag), not through this string.
 */
export function parseOciLocation(input: string): OciLocation {
  if (!input.startsWith("oci:")) throw new InvalidReferenceError(input, "reference", 'must start with "oci:"');
  const rest = input.slice("oci:".length);
  let path = rest;
  let reference: string | undefined;

  const at = rest.lastIndexOf("@");
  const digestSuffix = DIGEST_AT_END.exec(rest);
  if (at >= 0 && /^(?:sha256|sha512):/.test(rest.slice(at + 1))) {
    reference = rest.slice(at + 1);
    path = rest.slice(0, at);
  } else if (digestSuffix?.[1] !== undefined) {
    reference = digestSuffix[1];
    path = rest.slice(0, digestSuffix.index);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0) {
      const suffix = rest.slice(colon + 1);
      if (suffix === "") {
        path = rest.slice(0, colon);
      } else if (isValidTag(suffix)) {
        path = rest.slice(0, colon);
        reference = suffix;
      }
    }
  }
  if (reference !== undefined && reference.includes(":")) {
    const reason = explainInvalidDigest(reference);
    if (reason !== undefined) throw new InvalidReferenceError(input, "digest", reason);
  }
  if (path === "") throw new InvalidReferenceError(input, "reference", "names no directory (expected oci:PATH[:TAG] or oci:PATH@DIGEST)");
  return reference === undefined ? { path } : { path, reference };
}

// ---------------------------------------------------------------------------------------------
// index.json, kept as raw JSON next to its validated form so rewriting it preserves whatever
// fields we do not model (other tools' annotations, unknown keys).

type JsonObject = Record<string, unknown>;

interface LayoutIndex {
  /** The whole document as parsed JSON. */
  raw: JsonObject;
  /** raw.manifests, entry for entry. */
  rawEntries: JsonObject[];
  /** The same, validated. */
  parsed: OciIndex;
}

export interface LayoutEntry {
  /** The ref.name annotation, if the entry has one. */
  name: string | undefined;
  /** The entry as a descriptor (its ref.name annotation dropped). */
  descriptor: Descriptor;
}

/** An index.json entry as the descriptor of the content: the ref.name belongs to the layout, not to the content. */
function entryDescriptor(entry: Descriptor): Descriptor {
  const { annotations, ...rest } = entry;
  if (annotations === undefined) return { ...rest };
  const { [REF_NAME_ANNOTATION]: _name, ...others } = annotations;
  return Object.keys(others).length > 0 ? { ...rest, annotations: others } : { ...rest };
}

function emptyIndexBytes(): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }));
}

// ---------------------------------------------------------------------------------------------
// index.json writers take turns per directory (every store instance in this process), so
// concurrent tag() calls never lose each other's update. Other processes are not locked out.

const indexLocks = new Map<string, Promise<void>>();

function withIndexLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = indexLocks.get(key) ?? Promise.resolve();
  const run = previous.then(() => work());
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  indexLocks.set(key, tail);
  void tail.then(() => {
    if (indexLocks.get(key) === tail) indexLocks.delete(key);
  });
  return run;
}

/** Creates `path` with `bytes` unless it exists: written beside it, then hard-linked into place (atomic, never overwrites). */
async function createFileIfAbsent(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = temporaryPathFor(path);
  await writeFile(temporary, bytes, { flag: "wx", mode: 0o644 });
  try {
    await link(temporary, path);
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return;
    // A filesystem without hard links: rename, checking first (a small race we accept there).
    if (await stat(path).then(() => true, () => false)) return;
    await writeStreamAtomic(path, bytesStream(bytes));
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

export interface OpenLayoutOptions {
  /** Create the directory, oci-layout and an empty index.json when missing (default false). */
  create?: boolean | undefined;
}

/** Parsed, or undefined for bytes that are no manifest we can read. */
function parseQuietly(bytes: Uint8Array, mediaType: string): Manifest | undefined {
  try {
    return parseManifest(bytes, mediaType);
  } catch (err) {
    if (err instanceof ManifestError) return undefined;
    throw err;
  }
}

/**
 * An OCI image layout directory. Tags are index.json entries with an org.opencontainers.image.ref.name
 * annotation; when several entries carry the same name the FIRST wins, as skopeo reads it (tag()
 * never writes duplicates). There is no mount(): a layout has nothing to mount from.
 */
export class OciLayoutStore implements Store {
  readonly location: string;
  readonly capabilities: StoreCapabilities = { indexes: true, referrers: true, tags: true };
  /** The directory as given to open(). */
  readonly dir: string;
  readonly #root: string;
  readonly #lockKey: string;
  /** Aborted by abort(): stops in-flight pushes (whose temporary files are then removed). */
  readonly #controller = new AbortController();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #openedAt = Date.now();
  /** Directories cleared of stale temporary files, once per store, before its first write there. */
  readonly #swept = new Map<string, Promise<void>>();

  private constructor(dir: string, root: string, lockKey: string) {
    this.dir = dir;
    this.#root = root;
    this.#lockKey = lockKey;
    this.location = `oci:${dir}`;
  }

  /**
   * Opens the layout at `dir` after checking oci-layout (imageLayoutVersion 1.x) and index.json
   * (a valid OCI index). With `create`, makes what is missing first (mkdir -p, an empty index,
   * oci-layout), never overwriting an existing file. A missing layout is a not-found
   * QuaysideError; a garbled one an InvalidLayoutError.
   */
  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayoutStore> {
    const root = resolvePath(dir);
    const location = `oci:${dir}`;
    if (options.create) {
      await mkdir(join(root, "blobs"), { recursive: true });
      // index.json before oci-layout: the marker file appears last.
      await createFileIfAbsent(join(root, "index.json"), emptyIndexBytes());
      await createFileIfAbsent(join(root, "oci-layout"), Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })));
    }
    await checkLayoutFile(root, location);
    const store = new OciLayoutStore(dir, root, await realpath(root));
    await store.#readIndex();
    return store;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /**
   * A tag (first index.json entry with that ref.name) or a digest: an index.json entry with that
   * digest, else any manifest blob in the layout (its media type read from the blob, its size
   * from the file). The descriptor carries the entry's platform and annotations except ref.name.
   */
  async resolve(reference: string, options: StoreOptions = {}): Promise<Descriptor> {
    options.signal?.throwIfAborted();
    const index = await this.#readIndex();
    // Nothing named: the layout's only image, as skopeo reads "oci:DIR".
    if (reference === "") {
      const [only, ...others] = index.parsed.manifests;
      if (only !== undefined && others.length === 0) return entryDescriptor(only);
      const names = namesOf(index.parsed);
      throw new InvalidReferenceError(this.location, "tag", `is needed: the layout holds ${index.parsed.manifests.length} images${names.length > 0 ? ` (tags: ${names.slice(0, NAMES_IN_MESSAGE).join(", ")}${names.length > NAMES_IN_MESSAGE ? ", ..." : ""})` : ""}; name one as oci:DIR:TAG`);
    }
    if (isDigest(reference)) {
      const entry = index.parsed.manifests.find((m) => m.digest === reference);
      return entry !== undefined ? entryDescriptor(entry) : this.#describeBlob(reference, options);
    }
    const entry = index.parsed.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === reference);
    if (entry === undefined) {
      const names = namesOf(index.parsed);
      const shown = names.length === 0 ? "it has no tags" : `it has: ${names.slice(0, NAMES_IN_MESSAGE).join(", ")}${names.length > NAMES_IN_MESSAGE ? ", ..." : ""}`;
      throw notFound(`tag ${JSON.stringify(reference)} not found in ${this.location} (${shown})`);
    }
    return entryDescriptor(entry);
  }

  /** The tags (ref.name values) in index.json, sorted, each once. */
  async list(options: StoreOptions = {}): Promise<string[]> {
    options.signal?.throwIfAborted();
    return namesOf((await this.#readIndex()).parsed).sort();
  }

  async *tags(options: StoreOptions = {}): AsyncIterable<string> {
    yield* await this.list(options);
  }

  /** Every index.json entry in order, named or not. */
  async entries(options: StoreOptions = {}): Promise<LayoutEntry[]> {
    options.signal?.throwIfAborted();
    return (await this.#readIndex()).parsed.manifests.map((m) => ({ name: m.annotations?.[REF_NAME_ANNOTATION], descriptor: entryDescriptor(m) }));
  }

  /**
   * blobs/<alg>/<hex> as a stream that errors with DigestMismatchError / SizeMismatchError instead
   * of ending when the bytes are wrong. A file of the wrong size fails at once with SizeMismatchError;
   * a missing one with a not-found QuaysideError.
   */
  async fetch(descriptor: Descriptor, options: StoreOptions = {}): Promise<Readable> {
    options.signal?.throwIfAborted();
    const path = this.blobPath(descriptor.digest);
    const what = `${this.location} blob ${descriptor.digest}`;
    let handle: FileHandle;
    try {
      handle = await open(path, fsConstants.O_RDONLY);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw notFound(`${descriptor.digest} not found in ${this.location}`, err);
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notFound(`${descriptor.digest} in ${this.location} is not a file`);
      if (info.size !== descriptor.size) throw new SizeMismatchError(descriptor.size, info.size, what);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const verified = createVerifyingStream(descriptor.digest, { expectedSize: descriptor.size, what });
    // Errors travel to `verified` (the caller's stream); the file handle closes either way.
    pipeline(handle.createReadStream(), verified, () => undefined);
    if (options.signal) addAbortSignal(options.signal, verified);
    return verified;
  }

  /** The blob file exists with descriptor.size bytes (its content is verified when fetched). */
  async exists(descriptor: Descriptor, options: StoreOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted();
    return hasFileOfSize(this.blobPath(descriptor.digest), descriptor.size);
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /**
   * Streams content into blobs/<alg>/<hex> through a verifying stream: written to a temporary
   * dot-file and renamed into place only when digest and size match; on any failure nothing is
   * left. Content already present (right size) is not read again: a stream is destroyed unread.
   * Manifests are blobs too; naming them in index.json is tag()'s business, except for a
   * referrer (a manifest with a `subject`), which push() lists there untagged.
   */
  async push(descriptor: Descriptor, given: PushContent, options: PushOptions = {}): Promise<void> {
    // Unread while the file is checked and its directory made: an early error waits for the pipeline.
    const content = await holdContent(given);
    await this.#pushBlob(descriptor, content, options);
    if (!isManifestMediaType(descriptor.mediaType)) return;
    // A referrer is listed in index.json (untagged), or nothing would ever find it again.
    // Bytes given are the stored bytes (verified on the way): parsed as they are, not read back.
    const manifest = content instanceof Uint8Array ? parseQuietly(content, descriptor.mediaType) : await this.#readManifest(descriptor);
    if (manifest !== undefined && subjectOf(manifest) !== undefined) await this.#listReferrer(referrerDescriptor(manifest, descriptor.size));
  }

  /**
   * The manifests whose `subject` is `descriptor`, among those index.json lists (where push()
   * puts every referrer it stores, as oras and regclient do).
   */
  async referrers(descriptor: Descriptor, options: StoreOptions = {}): Promise<Descriptor[]> {
    const found: Descriptor[] = [];
    for (const entry of (await this.#readIndex()).parsed.manifests) {
      options.signal?.throwIfAborted();
      if (!isManifestMediaType(entry.mediaType) || entry.size > MANIFEST_SIZE_LIMIT) continue;
      const manifest = await this.#readManifest(entry);
      if (manifest && subjectOf(manifest)?.digest === descriptor.digest) found.push(referrerDescriptor(manifest, entry.size));
    }
    return found;
  }

  async #listReferrer(entry: Descriptor): Promise<void> {
    await this.#track(() =>
      withIndexLock(this.#lockKey, async () => {
        const updated = withReferrer((await this.#readIndex()).raw, entry);
        if (updated === undefined) return;
        await this.#sweep(this.#root);
        await writeStreamAtomic(join(this.#root, "index.json"), bytesStream(Buffer.from(JSON.stringify(updated))));
      }),
    );
  }

  /** A manifest blob of this layout, parsed; undefined if it is not a manifest we can read. */
  async #readManifest(descriptor: Descriptor): Promise<Manifest | undefined> {
    try {
      return parseQuietly(await readFile(this.blobPath(descriptor.digest)), descriptor.mediaType);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw err;
    }
  }

  async #pushBlob(descriptor: Descriptor, content: Readable | Uint8Array, options: PushOptions): Promise<void> {
    const target = this.blobPath(descriptor.digest);
    const signal = options.signal ? AbortSignal.any([this.#controller.signal, options.signal]) : this.#controller.signal;
    await this.#track(async () => {
      try {
        signal.throwIfAborted();
        if (await hasFileOfSize(target, descriptor.size)) {
          if (!(content instanceof Uint8Array)) content.destroy();
          return;
        }
        await mkdir(dirname(target), { recursive: true });
        await this.#sweep(dirname(target));
      } catch (err) {
        if (!(content instanceof Uint8Array)) content.destroy();
        throw err;
      }
      const source = toReadable(content);
      const verifier = createVerifyingStream(descriptor.digest, { expectedSize: descriptor.size, what: `${descriptor.digest} pushed to ${this.location}` });
      // pipeline() returns its last stage; any failure upstream destroys it with that error,
      // which makes writeStreamAtomic remove its temporary file and reject.
      const ignore = (): void => undefined;
      const verified = options.onProgress ? pipeline(source, verifier, countingStream(options.onProgress), ignore) : pipeline(source, verifier, ignore);
      addAbortSignal(signal, verified);
      await writeStreamAtomic(target, verified);
    });
  }

  /**
   * Names a manifest already stored here: the index.json entry with this ref.name is replaced in
   * place (any further entries with the same name are dropped), else one is appended; every other
   * entry is kept as it was. index.json is rewritten atomically; writers in this process take turns.
   */
  async tag(descriptor: Descriptor, tag: string, options: StoreOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (!isValidLayoutTag(tag)) {
      throw new InvalidReferenceError(tag, "tag", "is not a valid org.opencontainers.image.ref.name (components of [A-Za-z0-9] joined by -._:@+ or --, separated by /)");
    }
    const path = this.blobPath(descriptor.digest);
    await this.#track(() =>
      withIndexLock(this.#lockKey, async () => {
        if (!(await hasFileOfSize(path, descriptor.size))) {
          throw notFound(`cannot tag ${JSON.stringify(tag)}: manifest ${descriptor.digest} (${descriptor.size} bytes) is not in ${this.location}; push it first`);
        }
        const index = await this.#readIndex();
        const entry: JsonObject = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
        if (descriptor.platform !== undefined) entry["platform"] = descriptor.platform;
        if (descriptor.artifactType !== undefined) entry["artifactType"] = descriptor.artifactType;
        entry["annotations"] = { ...descriptor.annotations, [REF_NAME_ANNOTATION]: tag };

        const manifests: JsonObject[] = [];
        let placed = false;
        index.rawEntries.forEach((raw, i) => {
          if (index.parsed.manifests[i]?.annotations?.[REF_NAME_ANNOTATION] !== tag) {
            manifests.push(raw);
          } else if (!placed) {
            manifests.push(entry);
            placed = true;
          }
        });
        if (!placed) manifests.push(entry);
        const bytes = Buffer.from(JSON.stringify({ ...index.raw, manifests }));
        await this.#sweep(this.#root);
        await writeStreamAtomic(join(this.#root, "index.json"), bytesStream(bytes));
      }),
    );
  }

  /** Nothing is buffered; waits for this instance's pushes and tags still running. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }

  /** Stops this instance's pushes still running and waits until their temporary files are gone. */
  async abort(): Promise<void> {
    this.#controller.abort(new QuaysideError("ABORTED", `${this.location}: aborted`));
    await Promise.allSettled([...this.#inflight]);
  }

  // -------------------------------------------------------------------------------------------

  /** blobs/<alg>/<hex> for a digest (validated, so it can never leave the layout). */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.#root, "blobs", algorithm, hex);
  }

  /** Removes the temporary files an earlier, killed run left in `dir` (see removeStaleTemporaries). */
  #sweep(dir: string): Promise<void> {
    let sweeping = this.#swept.get(dir);
    if (sweeping === undefined) {
      sweeping = removeStaleTemporaries(dir, this.#openedAt - STALE_TEMPORARY_MS);
      this.#swept.set(dir, sweeping);
    }
    return sweeping;
  }

  async #track<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.#inflight.add(running);
    try {
      return await running;
    } finally {
      this.#inflight.delete(running);
    }
  }

  async #readIndex(): Promise<LayoutIndex> {
    const path = join(this.#root, "index.json");
    let bytes: Buffer;
    try {
      const info = await stat(path);
      if (info.size > INDEX_LIMIT) throw new InvalidLayoutError(`${this.location}: index.json is ${info.size} bytes, more than the ${INDEX_LIMIT} accepted`);
      bytes = await readFile(path);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw new InvalidLayoutError(`${this.location}: index.json is missing (not an OCI image layout, or an incomplete one)`, { cause: err });
      throw err;
    }
    let parsed;
    try {
      parsed = parseManifest(bytes);
    } catch (err) {
      throw new InvalidLayoutError(`${this.location}: index.json is not a valid OCI image index: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (parsed.kind !== "oci-index") {
      throw new InvalidLayoutError(`${this.location}: index.json has media type ${parsed.mediaType}, expected ${MediaType.OciIndex}`);
    }
    // parseManifest accepted it, so it is an object whose "manifests" is an array of objects.
    const raw = JSON.parse(bytes.toString("utf8")) as JsonObject;
    return { raw, rawEntries: raw["manifests"] as JsonObject[], parsed };
  }

  /** The descriptor of a manifest blob that index.json does not list. */
  async #describeBlob(digest: string, options: StoreOptions): Promise<Descriptor> {
    const path = this.blobPath(digest);
    let info: Stats;
    try {
      info = await stat(path);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw notFound(`manifest ${digest} not found in ${this.location}`, err);
      throw err;
    }
    if (!info.isFile()) throw notFound(`manifest ${digest} not found in ${this.location}`);
    if (info.size > MANIFEST_SIZE_LIMIT) throw new ManifestError(`${digest} in ${this.location} is a ${info.size}-byte blob, not a manifest`);
    const stream = await this.fetch({ mediaType: "application/octet-stream", digest, size: info.size }, options);
    const bytes = await readAll(stream, MANIFEST_SIZE_LIMIT, `${this.location} blob ${digest}`);
    let mediaType: string;
    try {
      mediaType = parseManifest(bytes).mediaType;
    } catch (err) {
      throw new ManifestError(`${digest} in ${this.location} is not a manifest (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    return { mediaType, digest, size: info.size };
  }
}

/** Checks DIR/oci-layout: present, JSON, imageLayoutVersion 1.x. */
async function checkLayoutFile(root: string, location: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(root, "oci-layout"), "utf8");
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      const dirExists = await stat(root).then((s) => s.isDirectory(), () => false);
      throw notFound(dirExists ? `${location} is not an OCI image layout: it has no oci-layout file` : `${location}: no such directory`, err);
    }
    throw err;
  }
  let version: unknown;
  try {
    const value: unknown = JSON.parse(text);
    version = typeof value === "object" && value !== null ? (value as JsonObject)["imageLayoutVersion"] : undefined;
  } catch (err) {
    throw new InvalidLayoutError(`${location}: oci-layout is not valid JSON`, { cause: err });
  }
  if (typeof version !== "string") throw new InvalidLayoutError(`${location}: oci-layout has no imageLayoutVersion`);
  if (!/^1\.\d+\.\d+$/.test(version)) {
    throw new InvalidLayoutError(`${location}: unsupported imageLayoutVersion ${JSON.stringify(version)} (supported: 1.x, e.g. ${OCI_LAYOUT_VERSION})`);
  }
}

async function hasFileOfSize(path: string, size: number): Promise<boolean> {
  try {
    const info = await stat(path);
    return info.isFile() && info.size === size;
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return false;
    throw err;
  }
}

/** Unique ref.name values in index order. */
function namesOf(index: OciIndex): string[] {
  const names = new Set<string>();
  for (const m of index.manifests) {
    const name = m.annotations?.[REF_NAME_ANNOTATION];
    if (name !== undefined) names.add(name);
  }
  return [...names];
}
