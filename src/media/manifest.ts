/**
 * Strict, typed parsing of manifest bytes into a discriminated union, and the digest a registry
 * computes for them. The exact bytes are kept: a manifest is never re-serialized.
 */
import { digestOf, explainInvalidDigest } from "../digest/digest.js";
import { bounded, ManifestError, quoted } from "../errors.js";
import {
  MediaType,
  isManifestMediaType,
  isSchema1MediaType,
  normalizeMediaType,
  type Descriptor,
  type Platform,
} from "./types.js";

interface ManifestCommon {
  readonly mediaType: string;
  /** The exact bytes given to parseManifest (not copied). */
  readonly bytes: Uint8Array;
  /** manifestDigest(bytes, mediaType). */
  readonly digest: string;
}

export interface DockerV1Manifest extends ManifestCommon {
  kind: "docker-v1";
  schemaVersion: 1;
  name: string;
  tag: string;
  architecture: string;
  fsLayers: { blobSum: string }[];
  history: { v1Compatibility: string }[];
  signed: boolean;
}

export interface DockerV2Manifest extends ManifestCommon {
  kind: "docker-v2";
  schemaVersion: 2;
  config: Descriptor;
  layers: Descriptor[];
}

export interface DockerManifestList extends ManifestCommon {
  kind: "docker-list";
  schemaVersion: 2;
  manifests: Descriptor[];
}

export interface OciManifest extends ManifestCommon {
  kind: "oci-manifest";
  schemaVersion: 2;
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface OciIndex extends ManifestCommon {
  kind: "oci-index";
  schemaVersion: 2;
  manifests: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type Manifest = DockerV1Manifest | DockerV2Manifest | DockerManifestList | OciManifest | OciIndex;
export type ImageManifest = DockerV2Manifest | OciManifest;
export type IndexManifest = DockerManifestList | OciIndex;
export type ManifestKind = Manifest["kind"];

type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Field readers. Each takes the path of the value so errors say where, e.g. "layers[2].digest".

function fail(path: string, message: string, cause?: unknown): never {
  throw new ManifestError(path === "" ? message : `${path}: ${message}`, cause === undefined ? undefined : { cause });
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${typeof value === "string" ? quoted(value) : bounded(String(value), 40)}`;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asObject(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) fail(path, `must be a JSON object, got ${describe(value)}`);
  return value;
}

function requireField(obj: JsonObject, key: string, path: string): unknown {
  const value = obj[key];
  if (value === undefined) fail(join(path, key), "required field is missing");
  return value;
}

function asString(value: unknown, path: string): string {
  if (typeof value !== "string") fail(path, `must be a string, got ${describe(value)}`);
  return value;
}

function requireString(obj: JsonObject, key: string, path: string): string {
  return asString(requireField(obj, key, path), join(path, key));
}

function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const value = obj[key];
  return value === undefined ? undefined : asString(value, join(path, key));
}

function asArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, got ${describe(value)}`);
  return value;
}

function requireArray<T>(obj: JsonObject, key: string, path: string, item: (value: unknown, path: string) => T): T[] {
  const itemsPath = join(path, key);
  return asArray(requireField(obj, key, path), itemsPath).map((value, i) => item(value, join(itemsPath, i)));
}

function optionalStringArray(obj: JsonObject, key: string, path: string): string[] | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const arrayPath = join(path, key);
  return asArray(value, arrayPath).map((entry, i) => asString(entry, join(arrayPath, i)));
}

function optionalStringMap(obj: JsonObject, key: string, path: string): Record<string, string> | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const mapPath = join(path, key);
  const map: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(value, mapPath))) map[k] = asString(v, join(mapPath, k));
  return map;
}

function asDigest(value: unknown, path: string): string {
  const digest = asString(value, path);
  const reason = explainInvalidDigest(digest);
  if (reason !== undefined) fail(path, `invalid digest ${quoted(digest)}: ${reason}`);
  return digest;
}

function asSize(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(path, `must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** Copies only defined values, so optional fields are absent rather than `undefined`. */
function withOptional<T extends object, O extends object>(base: T, optional: O): T & Partial<O> {
  const entries: [string, unknown][] = Object.entries(optional);
  const defined = Object.fromEntries(entries.filter(([, v]) => v !== undefined));
  return { ...base, ...defined } as T & Partial<O>;
}

// ---------------------------------------------------------------------------------------------
// Descriptors and platforms.

export function parsePlatformObject(value: unknown, path: string): Platform {
  const obj = asObject(value, path);
  return withOptional(
    { architecture: requireString(obj, "architecture", path), os: requireString(obj, "os", path) },
    {
      variant: optionalString(obj, "variant", path),
      "os.version": optionalString(obj, "os.version", path),
      "os.features": optionalStringArray(obj, "os.features", path),
      features: optionalStringArray(obj, "features", path),
    },
  );
}

/** Validates a descriptor (OCI image-spec descriptor.md); throws ManifestError naming `path`. */
export function parseDescriptor(value: unknown, path: string): Descriptor {
  const obj = asObject(value, path);
  const descriptor = withOptional(
    {
      mediaType: requireString(obj, "mediaType", path),
      digest: asDigest(requireField(obj, "digest", path), join(path, "digest")),
      size: asSize(requireField(obj, "size", path), join(path, "size")),
    },
    {
      urls: optionalStringArray(obj, "urls", path),
      annotations: optionalStringMap(obj, "annotations", path),
      platform: obj["platform"] === undefined ? undefined : parsePlatformObject(obj["platform"], join(path, "platform")),
      artifactType: optionalString(obj, "artifactType", path),
      data: optionalString(obj, "data", path),
    },
  );
  if (descriptor.data !== undefined) checkEmbeddedData(descriptor.data, descriptor, join(path, "data"));
  return descriptor;
}

/** The spec requires embedded data to match the descriptor's size and digest. */
function checkEmbeddedData(data: string, descriptor: Descriptor, path: string): void {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) fail(path, "must be standard base64");
  const decoded = Buffer.from(data, "base64");
  if (decoded.byteLength !== descriptor.size) fail(path, `decodes to ${decoded.byteLength} bytes, size says ${descriptor.size}`);
  const algorithm = descriptor.digest.startsWith("sha512:") ? "sha512" : "sha256";
  const actual = digestOf(decoded, algorithm);
  if (actual !== descriptor.digest) fail(path, `content has digest ${actual}, descriptor says ${descriptor.digest}`);
}

// ---------------------------------------------------------------------------------------------
// Decoding and media type resolution.

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeJsonObject(bytes: Uint8Array, prefix: string): JsonObject {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    fail(prefix, "not valid UTF-8", err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(prefix, `not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
  }
  if (!isJsonObject(value)) fail(prefix, `must be a JSON object, got ${describe(value)}`);
  return value;
}

/** Content types that say nothing about which manifest this is; some registries send them. */
const GENERIC_CONTENT_TYPES = new Set(["", "application/json", "text/plain", "application/octet-stream", "binary/octet-stream"]);

function headerMediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const normalized = normalizeMediaType(contentType);
  return GENERIC_CONTENT_TYPES.has(normalized) ? undefined : normalized;
}

function detectMediaType(root: JsonObject): string {
  if (root["schemaVersion"] === 1) {
    return root["signatures"] === undefined ? MediaType.DockerManifestV1 : MediaType.DockerManifestV1Signed;
  }
  if (root["manifests"] !== undefined) return MediaType.OciIndex;
  if (root["config"] !== undefined) return MediaType.OciManifest;
  return fail("", 'no mediaType in the body or Content-Type, and the shape is not recognizable (no "manifests", "config" or schemaVersion 1)');
}

function resolveMediaType(root: JsonObject, contentType: string | undefined): string {
  const bodyRaw = optionalString(root, "mediaType", "");
  const body = bodyRaw === undefined ? undefined : normalizeMediaType(bodyRaw);
  const header = headerMediaType(contentType);
  if (body !== undefined && header !== undefined && body !== header) {
    fail("mediaType", `body says ${quoted(bodyRaw ?? "")} but Content-Type says ${quoted(contentType ?? "")}`);
  }
  const mediaType = body ?? header ?? detectMediaType(root);
  if (!isManifestMediaType(mediaType)) fail("mediaType", `${quoted(mediaType)} is not a manifest media type`);
  return mediaType;
}

function requireSchemaVersion<V extends 1 | 2>(root: JsonObject, expected: V): V {
  const actual = requireField(root, "schemaVersion", "");
  if (actual !== expected) fail("schemaVersion", `expected ${expected}, got ${describe(actual)}`);
  return expected;
}

// ---------------------------------------------------------------------------------------------
// Per-kind parsers.

function parseV1(root: JsonObject, common: ManifestCommon): DockerV1Manifest {
  const schemaVersion = requireSchemaVersion(root, 1);
  const fsLayers = requireArray(root, "fsLayers", "", (value, path) => ({
    blobSum: asDigest(requireField(asObject(value, path), "blobSum", path), join(path, "blobSum")),
  }));
  const history = requireArray(root, "history", "", (value, path) => ({
    v1Compatibility: requireString(asObject(value, path), "v1Compatibility", path),
  }));
  if (history.length !== fsLayers.length) {
    fail("history", `has ${history.length} entries but fsLayers has ${fsLayers.length}; they must match`);
  }
  const signatures = root["signatures"];
  if (signatures !== undefined) asArray(signatures, "signatures");
  return {
    ...common,
    kind: "docker-v1",
    schemaVersion,
    name: requireString(root, "name", ""),
    tag: requireString(root, "tag", ""),
    architecture: requireString(root, "architecture", ""),
    fsLayers,
    history,
    signed: signatures !== undefined,
  };
}

function parseImageParts(root: JsonObject): { config: Descriptor; layers: Descriptor[] } {
  return {
    config: parseDescriptor(requireField(root, "config", ""), "config"),
    layers: requireArray(root, "layers", "", parseDescriptor),
  };
}

/** OCI-only optional fields shared by image manifests and indexes. */
function parseOciExtras(root: JsonObject): { artifactType?: string; subject?: Descriptor; annotations?: Record<string, string> } {
  return withOptional(
    {},
    {
      artifactType: optionalString(root, "artifactType", ""),
      subject: root["subject"] === undefined ? undefined : parseDescriptor(root["subject"], "subject"),
      annotations: optionalStringMap(root, "annotations", ""),
    },
  );
}

function parseByMediaType(root: JsonObject, common: ManifestCommon): Manifest {
  switch (common.mediaType) {
    case MediaType.DockerManifestV1:
    case MediaType.DockerManifestV1Signed:
      return parseV1(root, common);
    case MediaType.DockerManifestV2:
      return { ...common, kind: "docker-v2", schemaVersion: requireSchemaVersion(root, 2), ...parseImageParts(root) };
    case MediaType.DockerManifestList:
      return {
        ...common,
        kind: "docker-list",
        schemaVersion: requireSchemaVersion(root, 2),
        manifests: requireArray(root, "manifests", "", parseDescriptor),
      };
    case MediaType.OciManifest:
      return {
        ...common,
        kind: "oci-manifest",
        schemaVersion: requireSchemaVersion(root, 2),
        ...parseImageParts(root),
        ...parseOciExtras(root),
      };
    case MediaType.OciIndex:
      return {
        ...common,
        kind: "oci-index",
        schemaVersion: requireSchemaVersion(root, 2),
        manifests: requireArray(root, "manifests", "", parseDescriptor),
        ...parseOciExtras(root),
      };
    default:
      return fail("mediaType", `${quoted(common.mediaType)} is not a manifest media type`);
  }
}

/**
 * Parse exact bytes. The media type comes from the body's mediaType, else from contentType
 * (parameters ignored; generic types like application/json are treated as absent), else from
 * the shape. A contentType that disagrees with the body's mediaType is an error.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): Manifest {
  const root = decodeJsonObject(bytes, "");
  const mediaType = resolveMediaType(root, contentType);
  return parseByMediaType(root, { mediaType, bytes, digest: manifestDigest(bytes, mediaType) });
}

export function isIndex(m: Manifest): m is IndexManifest {
  return m.kind === "oci-index" || m.kind === "docker-list";
}

export function isImage(m: Manifest): m is ImageManifest {
  return m.kind === "oci-manifest" || m.kind === "docker-v2";
}

/**
 * The content a manifest points at: an index's manifests (not its subject); an image's config
 * then layers. Schema 1 has no sized descriptors, so it yields [] (see its fsLayers instead).
 */
export function referencedDescriptors(m: Manifest): Descriptor[] {
  switch (m.kind) {
    case "oci-index":
    case "docker-list":
      return [...m.manifests];
    case "oci-manifest":
    case "docker-v2":
      return [m.config, ...m.layers];
    case "docker-v1":
      return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Digests, including libtrust's pretty-JWS schema 1 payload.

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeBase64Url(value: string, path: string): Buffer {
  if (!BASE64URL.test(value)) fail(path, "must be unpadded base64url");
  return Buffer.from(value, "base64url");
}

interface PayloadFormat {
  length: number;
  tail: Buffer;
}

function readPayloadFormat(signature: unknown, path: string, maxLength: number): PayloadFormat {
  const obj = asObject(signature, path);
  const protectedPath = join(path, "protected");
  const header = decodeJsonObject(decodeBase64Url(requireString(obj, "protected", path), protectedPath), protectedPath);
  const length = header["formatLength"];
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0 || length > maxLength) {
    fail(join(protectedPath, "formatLength"), `must be an integer between 0 and ${maxLength}, got ${describe(length)}`);
  }
  const tailPath = join(protectedPath, "formatTail");
  return { length, tail: decodeBase64Url(asString(header["formatTail"], tailPath), tailPath) };
}

/**
 * The signed payload of a pretty-JWS schema 1 manifest: the bytes before the "signatures" key
 * (formatLength) followed by the closing text libtrust cut off (formatTail). Undefined when the
 * manifest carries no signatures.
 */
function schema1Payload(bytes: Uint8Array): Uint8Array | undefined {
  const root = decodeJsonObject(bytes, "");
  if (root["signatures"] === undefined) return undefined;
  const signatures = asArray(root["signatures"], "signatures");
  if (signatures.length === 0) fail("signatures", "is empty");
  const formats = signatures.map((s, i) => readPayloadFormat(s, join("signatures", i), bytes.byteLength));
  const first = formats[0] as PayloadFormat;
  if (formats.some((f) => f.length !== first.length || !f.tail.equals(first.tail))) {
    fail("signatures", "protected headers disagree on the payload format");
  }
  const payload = Buffer.concat([bytes.subarray(0, first.length), first.tail]);
  decodeJsonObject(payload, "signatures: rebuilt payload");
  return payload;
}

/**
 * The digest a registry computes for these manifest bytes: sha256 of the bytes, except a signed
 * schema 1 manifest, whose digest is over the JWS payload (the manifest without "signatures").
 */
export function manifestDigest(bytes: Uint8Array, mediaType: string): string {
  if (isSchema1MediaType(mediaType)) {
    const payload = schema1Payload(bytes);
    if (payload !== undefined) return digestOf(payload);
  }
  return digestOf(bytes);
}

// ---------------------------------------------------------------------------------------------
// Image config.

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: Record<string, unknown>;
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function lenientRootfs(value: unknown): ImageConfig["rootfs"] {
  if (!isJsonObject(value)) return undefined;
  const { type, diff_ids: diffIds } = value;
  if (typeof type !== "string" || !Array.isArray(diffIds) || !diffIds.every((d) => typeof d === "string")) return undefined;
  return { type, diff_ids: diffIds };
}

/**
 * Parse an image config blob (OCI/Docker config JSON). Lenient: fields of an unexpected type are
 * dropped rather than rejected, since configs in the wild vary; only a non-object is an error.
 */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  const root = decodeJsonObject(bytes, "config");
  return withOptional(
    {},
    {
      architecture: stringOrUndefined(root["architecture"]),
      os: stringOrUndefined(root["os"]),
      variant: stringOrUndefined(root["variant"]),
      created: stringOrUndefined(root["created"]),
      author: stringOrUndefined(root["author"]),
      config: isJsonObject(root["config"]) ? root["config"] : undefined,
      rootfs: lenientRootfs(root["rootfs"]),
      history: Array.isArray(root["history"]) ? root["history"] : undefined,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Referrers (OCI 1.1): a manifest with a `subject` refers to that manifest.

/** The subject a manifest refers to, if any. */
export function subjectOf(manifest: Manifest): Descriptor | undefined {
  return manifest.kind === "oci-manifest" || manifest.kind === "oci-index" ? manifest.subject : undefined;
}

/** How a referrer is listed: its descriptor with artifactType (else an image's config type) and annotations. */
export function referrerDescriptor(manifest: Manifest, size: number): Descriptor {
  const artifactType = manifest.kind === "oci-manifest" ? (manifest.artifactType ?? manifest.config.mediaType) : manifest.kind === "oci-index" ? manifest.artifactType : undefined;
  const annotations = manifest.kind === "oci-manifest" || manifest.kind === "oci-index" ? manifest.annotations : undefined;
  return { mediaType: manifest.mediaType, digest: manifest.digest, size, ...(artifactType !== undefined ? { artifactType } : {}), ...(annotations !== undefined ? { annotations } : {}) };
}

/**
 * An image index (as parsed JSON) with `referrer` appended, every other entry and field kept; or
 * undefined when it lists that digest already. Both a registry's fallback tag index and an OCI
 * layout's index.json list referrers this way.
 */
export function withReferrer<T extends { manifests?: unknown[] }>(index: T, referrer: Descriptor): T | undefined {
  const manifests = index.manifests ?? [];
  if (manifests.some((m) => isJsonObject(m) && m["digest"] === referrer.digest)) return undefined;
  return { ...index, manifests: [...manifests, referrer] };
}
