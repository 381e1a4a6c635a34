/**
 * Image references ("registry/repo:tag@digest") parsed and normalized the way Docker does,
 * following the distribution/reference grammar.
 */
import { isIPv6 } from "node:net";
import { explainInvalidDigest } from "../digest/digest.js";
import { InvalidReferenceError } from "../errors.js";

export const DOCKER_HUB = "docker.io";
/** The host Docker Hub's registry API is actually served from. */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";
export const DEFAULT_TAG = "latest";
/** Longest repository path (after normalization, e.g. "library/ubuntu") distribution accepts. */
export const MAX_REPOSITORY_LENGTH = 255;
export const MAX_TAG_LENGTH = 128;

const DOCKER_HUB_ALIASES = new Set([DOCKER_HUB, "index.docker.io", DOCKER_HUB_API_HOST]);
const OFFICIAL_NAMESPACE = "library";

type Part = InvalidReferenceError["part"];

// ---------------------------------------------------------------------------------------------
// Grammar checks. Each returns why a part is invalid, or undefined when it is fine.

const TAG = /^[\w][\w.-]*$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** "[...]" around text that is an IPv6 address as a URL would take it (no zone: Docker refuses those too). */
function isBracketedIpv6(host: string): boolean {
  return host.startsWith("[") && host.endsWith("]") && isIPv6(host.slice(1, -1)) && !host.includes("%");
}

function explainInvalidTag(tag: string): string | undefined {
  if (tag === "") return "is empty";
  if (tag.length > MAX_TAG_LENGTH) return `is too long: ${tag.length} characters, at most ${MAX_TAG_LENGTH}`;
  if (!TAG.test(tag)) return `${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
  return undefined;
}

export function isValidTag(tag: string): boolean {
  return explainInvalidTag(tag) === undefined;
}

function explainInvalidComponent(component: string): string | undefined {
  if (component === "") return 'has an empty path component (check for "//" or a leading or trailing "/")';
  if (PATH_COMPONENT.test(component)) return undefined;
  const quoted = JSON.stringify(component);
  if (/^[^a-z0-9]/.test(component)) return `component ${quoted} must start with a lowercase letter or digit`;
  if (/[^a-z0-9]$/.test(component)) return `component ${quoted} must end with a lowercase letter or digit`;
  if (/[^a-z0-9._-]/.test(component)) return `component ${quoted} may only contain [a-z0-9] and the separators ".", "_", "__", "-"`;
  return `component ${quoted} has an invalid separator (allowed: ".", "_", "__", or one or more "-")`;
}

function explainInvalidRepository(path: string): string | undefined {
  if (path === "") return "is empty";
  if (/[A-Z]/.test(path)) return "name must be lowercase";
  if (path.length > MAX_REPOSITORY_LENGTH) return `name is too long: ${path.length} characters, at most ${MAX_REPOSITORY_LENGTH}`;
  for (const component of path.split("/")) {
    const reason = explainInvalidComponent(component);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

function explainInvalidPort(port: string): string | undefined {
  if (!/^[0-9]+$/.test(port)) return `port ${JSON.stringify(port)} must be a number`;
  const value = Number(port);
  if (value < 1 || value > 65535) return `port ${port} is out of range 1-65535`;
  return undefined;
}

/** Splits "host[:port]", where host may be a bracketed IPv6 address. */
function splitHostPort(registry: string): { host: string; port: string | undefined } {
  const close = registry.startsWith("[") ? registry.indexOf("]") : -1;
  const colon = registry.indexOf(":", close + 1);
  return colon < 0 ? { host: registry, port: undefined } : { host: registry.slice(0, colon), port: registry.slice(colon + 1) };
}

function explainInvalidRegistry(registry: string): string | undefined {
  if (registry === "") return "is empty";
  const { host, port } = splitHostPort(registry);
  const hostOk = host.startsWith("[") ? isBracketedIpv6(host) : DOMAIN_NAME.test(host);
  if (!hostOk) return `host ${JSON.stringify(host)} is not a valid host name, IPv4 address or bracketed IPv6 address`;
  return port === undefined ? undefined : explainInvalidPort(port);
}

export function validateRegistryHost(host: string): void {
  const reason = explainInvalidRegistry(host);
  if (reason !== undefined) throw new InvalidReferenceError(host, "registry", reason);
}

// ---------------------------------------------------------------------------------------------
// Splitting and normalization.

interface RawParts {
  registry: string | undefined;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Splits "[registry/]path[:tag][@digest]" textually; validation happens afterwards. */
function splitReference(input: string): RawParts {
  const at = input.indexOf("@");
  const beforeDigest = at < 0 ? input : input.slice(0, at);
  const digest = at < 0 ? undefined : input.slice(at + 1);
  // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
  const colon = beforeDigest.lastIndexOf(":");
  const hasTag = colon > beforeDigest.lastIndexOf("/");
  const name = hasTag ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = hasTag ? beforeDigest.slice(colon + 1) : undefined;
  const slash = name.indexOf("/");
  const first = slash < 0 ? undefined : name.slice(0, slash);
  if (first !== undefined && looksLikeRegistry(first)) return { registry: first, path: name.slice(slash + 1), tag, digest };
  return { registry: undefined, path: name, tag, digest };
}

/** Docker's rule: the first component names a registry iff it has a '.' or ':' or is "localhost". */
function looksLikeRegistry(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost" || component.startsWith("[");
}

function normalizeRegistry(registry: string | undefined): string {
  if (registry === undefined) return DOCKER_HUB;
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB : registry;
}

/** Docker Hub's official images live under "library/". */
function normalizePath(registry: string, path: string): string {
  return registry === DOCKER_HUB && path !== "" && !path.includes("/") ? `${OFFICIAL_NAMESPACE}/${path}` : path;
}

interface Parts {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

function check(input: string, part: Part, reason: string | undefined): void {
  if (reason !== undefined) throw new InvalidReferenceError(input, part, reason);
}

function parseParts(input: string): Parts {
  if (input === "") throw new InvalidReferenceError(input, "reference", "is empty");
  if (/\s/.test(input)) throw new InvalidReferenceError(input, "reference", "must not contain whitespace");
  const raw = splitReference(input);
  if (raw.registry !== undefined) check(input, "registry", explainInvalidRegistry(raw.registry));
  if (raw.registry === undefined && /^[a-f0-9]{64}$/.test(raw.path)) {
    check(input, "repository", "must not be a 64-character hex string (that is an image ID, not a name)");
  }
  const registry = normalizeRegistry(raw.registry);
  const repository = normalizePath(registry, raw.path);
  check(input, "repository", explainInvalidRepository(repository));
  if (raw.tag !== undefined) check(input, "tag", explainInvalidTag(raw.tag));
  if (raw.digest !== undefined) check(input, "digest", explainInvalidDigest(raw.digest));
  return { registry, repository, tag: raw.tag, digest: raw.digest };
}

// ---------------------------------------------------------------------------------------------

export class Reference {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  private constructor(parts: Parts) {
    this.registry = parts.registry;
    this.repository = parts.repository;
    this.tag = parts.tag;
    this.digest = parts.digest;
  }

  static parse(input: string, options?: { defaultTag?: string }): Reference {
    const parts = parseParts(input);
    if (parts.tag === undefined && parts.digest === undefined) {
      const tag = options?.defaultTag ?? DEFAULT_TAG;
      check(input, "tag", explainInvalidTag(tag));
      return new Reference({ ...parts, tag });
    }
    return new Reference(parts);
  }

  /**
   * Builds a reference from separate parts, validating and normalizing each like parse does
   * (registry aliases, "library/"); the tag defaults to "latest" only when no digest is given either.
   */
  static fromParts(parts: { registry: string; repository: string; tag?: string; digest?: string }): Reference {
    const input = formatReference({ ...parts, tag: parts.tag, digest: parts.digest });
    check(input, "registry", explainInvalidRegistry(parts.registry));
    const registry = normalizeRegistry(parts.registry);
    const repository = normalizePath(registry, parts.repository);
    check(input, "repository", explainInvalidRepository(repository));
    const tag = parts.tag ?? (parts.digest === undefined ? DEFAULT_TAG : undefined);
    if (tag !== undefined) check(input, "tag", explainInvalidTag(tag));
    if (parts.digest !== undefined) check(input, "digest", explainInvalidDigest(parts.digest));
    return new Reference({ registry, repository, tag, digest: parts.digest });
  }

  /** registry + "/" + repository */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** What goes in /v2/<repo>/manifests/<here>: digest if present, else tag. */
  get reference(): string {
    // Every way of building a Reference sets a tag or a digest; the fallback only satisfies the type.
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  /** A copy with this tag and no digest. */
  withTag(tag: string): Reference {
    check(`${this.name}:${tag}`, "tag", explainInvalidTag(tag));
    return new Reference({ registry: this.registry, repository: this.repository, tag, digest: undefined });
  }

  /** A copy pinned to this digest, keeping the tag. */
  withDigest(digest: string): Reference {
    check(`${this.name}@${digest}`, "digest", explainInvalidDigest(digest));
    return new Reference({ registry: this.registry, repository: this.repository, tag: this.tag, digest });
  }

  /** Fully normalized, e.g. "docker.io/library/ubuntu:latest". */
  toString(): string {
    return formatReference(this);
  }

  /** The short form Docker shows: "ubuntu:latest", "user/repo:tag", other registries unchanged. */
  toFamiliarString(): string {
    if (this.registry !== DOCKER_HUB) return this.toString();
    const official = `${OFFICIAL_NAMESPACE}/`;
    const path = this.repository.startsWith(official) && !this.repository.slice(official.length).includes("/")
      ? this.repository.slice(official.length)
      : this.repository;
    return formatReference({ registry: undefined, repository: path, tag: this.tag, digest: this.digest });
  }
}

function formatReference(r: { registry: string | undefined; repository: string; tag: string | undefined; digest: string | undefined }): string {
  const name = r.registry === undefined ? r.repository : `${r.registry}/${r.repository}`;
  return `${name}${r.tag === undefined ? "" : `:${r.tag}`}${r.digest === undefined ? "" : `@${r.digest}`}`;
}

/**
 * Parse like Docker: "ubuntu" -> docker.io/library/ubuntu:latest. The default tag applies only
 * when neither a tag nor a digest is given.
 */
export function parseReference(input: string, options?: { defaultTag?: string }): Reference {
  return Reference.parse(input, options);
}

/**
 * For commands that change or remove what a reference names (delete, untag): the tag or digest
 * must be written out; "latest" is never assumed.
 */
export function parseExplicitReference(input: string): Reference {
  const parts = parseParts(input);
  if (parts.tag === undefined && parts.digest === undefined) {
    throw new InvalidReferenceError(input, "tag", "is missing: name the tag or digest explicitly (nothing is assumed for a command that removes)");
  }
  return Reference.parse(input);
}

/** A repository without tag or digest (for `tags REPO`, `catalog`): throws if a tag or digest is present. */
export function parseRepository(input: string): { registry: string; repository: string } {
  const parts = parseParts(input);
  if (parts.tag !== undefined) throw new InvalidReferenceError(input, "tag", "is not allowed here: give a repository without a tag");
  if (parts.digest !== undefined) throw new InvalidReferenceError(input, "digest", "is not allowed here: give a repository without a digest");
  return { registry: parts.registry, repository: parts.repository };
}

/** The host to talk HTTP to: "docker.io" -> "registry-1.docker.io", everything else unchanged. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}
