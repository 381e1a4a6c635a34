/**
 * quay://[HOST/]ORG[/GLOB][:TAG][?since=YYYY-MM-DD] and the ORG/REPO[:TAG] names of the quay
 * commands. Pure: no I/O. HOST follows Docker's rule (a first segment with a dot or a port, or
 * "localhost", followed by more), so "quay://kolla:2025.*" is an organization and a tag.
 */
import picomatch from "picomatch";
import { InvalidReferenceError, UsageError } from "../errors.js";
import { isValidTag } from "../ref/reference.js";

export const QUAY_SCHEME = "quay://";
export const DEFAULT_QUAY_TAG = "latest";

export interface QuayUri {
  /** The text as given. */
  text: string;
  /** The Quay host named in the URI ("quay.io", "127.0.0.1:8080"); undefined: --quay-url, else quay.io. */
  host: string | undefined;
  namespace: string;
  /** A shell glob over repository names ("*" does not cross "/", "**" does); undefined: every repository. */
  repositories: string | undefined;
  /** A tag name, or a glob over tag names ("2025.*"). */
  tag: string;
  tagIsGlob: boolean;
  /** Images whose tag started on or after this UTC day (YYYY-MM-DD). */
  since: string | undefined;
}

/** Characters that make a name a glob. */
const GLOB_CHARS = /[*?[\]{}()!+@\\]/;
/** Quay namespace names (users and organizations). */
const NAMESPACE = /^[a-z0-9_][a-z0-9_.-]*$/;
/** Quay repository names; extended names hold "/". */
const REPOSITORY = /^[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)*$/;

export function isQuayUri(text: string): boolean {
  return text.startsWith(QUAY_SCHEME);
}

export function isGlob(text: string): boolean {
  return GLOB_CHARS.test(text);
}

/** Parse a quay:// URI; typed errors for text that does not parse. */
export function parseQuayUri(text: string): QuayUri {
  if (!isQuayUri(text)) throw new InvalidReferenceError(text, "reference", `must start with ${QUAY_SCHEME}`);
  let rest = text.slice(QUAY_SCHEME.length);
  let since: string | undefined;
  const question = rest.indexOf("?");
  if (question >= 0) {
    const params = new URLSearchParams(rest.slice(question + 1));
    rest = rest.slice(0, question);
    for (const [name, value] of params) {
      if (name !== "since") throw new UsageError(`${text}: unknown parameter ${JSON.stringify(name)} (quay:// takes ?since=YYYY-MM-DD)`);
      since = parseDay(value, text);
    }
  }
  const { host, path } = splitHost(rest);
  let tag = DEFAULT_QUAY_TAG;
  let names = path;
  const colon = path.lastIndexOf(":");
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    names = path.slice(0, colon);
    if (tag === "") throw new InvalidReferenceError(text, "tag", "is empty");
  }
  const slash = names.indexOf("/");
  const namespace = slash >= 0 ? names.slice(0, slash) : names;
  const repositories = slash >= 0 ? names.slice(slash + 1) : undefined;
  if (!NAMESPACE.test(namespace)) throw new InvalidReferenceError(text, "repository", `organization ${JSON.stringify(namespace)} is not a Quay namespace name (lowercase letters, digits, _ . -)`);
  if (repositories === "") throw new InvalidReferenceError(text, "repository", "glob is empty (leave it out for every repository)");
  if (repositories !== undefined) compileGlob(repositories, text);
  const tagIsGlob = isGlob(tag);
  if (tagIsGlob) compileGlob(tag, text);
  else if (!isValidTag(tag)) throw new InvalidReferenceError(text, "tag", "is not a valid tag (letters, digits, _ . -; at most 128)");
  return { text, host, namespace, repositories, tag, tagIsGlob, since };
}

export interface QuayRepositoryName {
  host: string | undefined;
  namespace: string;
  repository: string;
  tag: string | undefined;
}

/**
 * "[quay://][HOST/]ORG/REPO[:TAG]" for the quay commands. `tag: "required"` makes a missing tag a
 * usage error: destructive commands never assume one.
 */
export function parseQuayRepository(text: string, tag: "required" | "optional" | "forbidden"): QuayRepositoryName {
  const bare = isQuayUri(text) ? text.slice(QUAY_SCHEME.length) : text;
  const { host, path } = splitHost(bare);
  const colon = path.lastIndexOf(":");
  const names = colon >= 0 ? path.slice(0, colon) : path;
  const given = colon >= 0 ? path.slice(colon + 1) : undefined;
  const slash = names.indexOf("/");
  const namespace = slash >= 0 ? names.slice(0, slash) : "";
  const repository = slash >= 0 ? names.slice(slash + 1) : names;
  if (!NAMESPACE.test(namespace) || !REPOSITORY.test(repository)) throw new InvalidReferenceError(text, "repository", "expected ORG/REPO (Quay names: lowercase letters, digits, _ . -)");
  if (given !== undefined && !isValidTag(given)) throw new InvalidReferenceError(text, "tag", "is not a valid tag (letters, digits, _ . -; at most 128)");
  if (tag === "required" && given === undefined) throw new InvalidReferenceError(text, "tag", "is missing: name the tag explicitly (ORG/REPO:TAG)");
  if (tag === "forbidden" && given !== undefined) throw new InvalidReferenceError(text, "tag", "is not expected here: name the repository only (ORG/REPO)");
  return { host, namespace, repository, tag: given };
}

/** "[quay://][HOST/]ORG" for `quay repos`. */
export function parseQuayNamespace(text: string): { host: string | undefined; namespace: string } {
  const bare = isQuayUri(text) ? text.slice(QUAY_SCHEME.length) : text;
  const { host, path } = splitHost(bare);
  if (!NAMESPACE.test(path)) throw new InvalidReferenceError(text, "repository", "expected an organization name (lowercase letters, digits, _ . -)");
  return { host, namespace: path };
}

/** A matcher for a shell glob: "*" stays within a "/"-separated segment, "**" crosses them. */
export function globMatcher(glob: string): (name: string) => boolean {
  return picomatch(glob, { dot: true });
}

/**
 * The literal start of a glob ("2025." of "2025.*"): every name the glob matches contains it, so
 * Quay's filter_tag_name=like: can narrow a tag listing to a superset of the matches.
 */
export function literalPrefix(glob: string): string {
  const special = glob.search(GLOB_CHARS);
  return special < 0 ? glob : glob.slice(0, special);
}

/** Seconds since the epoch of 00:00 UTC of a YYYY-MM-DD day. */
export function daySeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

function parseDay(value: string, text: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const time = match ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  // Date.parse accepts 2025-02-30 in some engines; a round trip tells.
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) {
    throw new UsageError(`${text}: since=${value} is not a day (YYYY-MM-DD)`);
  }
  return value;
}

function splitHost(text: string): { host: string | undefined; path: string } {
  const slash = text.indexOf("/");
  if (slash < 0) return { host: undefined, path: text };
  const first = text.slice(0, slash);
  const isHost = first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[");
  return isHost ? { host: first, path: text.slice(slash + 1) } : { host: undefined, path: text };
}

function compileGlob(glob: string, text: string): void {
  try {
    picomatch.makeRe(glob);
  } catch (err) {
    throw new UsageError(`${text}: ${JSON.stringify(glob)} is not a glob: ${err instanceof Error ? err.message : String(err)}`);
  }
}
