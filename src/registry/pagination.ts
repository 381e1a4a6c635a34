/**
 * Catalog and tag listings as async iterators over every page: the RFC 8288 `Link` header,
 * else `n`/`last` after a full page; loops and repeated entries detected; a registry that
 * refuses our `n` (PAGINATION_NUMBER_INVALID) asked again with its own page size.
 */
import { repositoryScope, type Scope } from "../auth/scope.js";
import { bounded, ProtocolError, quoted, redactUrl, RegistryError } from "../errors.js";
import { allHeaders, type HttpResponse } from "../http/transport.js";
import { LISTING_PAGE_LIMIT, MAX_PAGES } from "../util/limits.js";
import type { RegistrySession, RequestOptions } from "./session.js";

export interface ListOptions extends RequestOptions {
  /** Ask for pages of this many entries (`n`); the server may cap it. */
  pageSize?: number;
  /** Start after this entry (`last`). */
  last?: string;
}

/** Every repository name in the catalog, following pagination. */
export function catalog(session: RegistrySession, options: ListOptions = {}): AsyncIterable<string> {
  return paginate(session, "/v2/_catalog", "repositories", [{ type: "registry", name: "catalog", actions: ["*"] }], options);
}

/** Every tag of a repository, following pagination. */
export function tags(session: RegistrySession, repository: string, options: ListOptions = {}): AsyncIterable<string> {
  return paginate(session, `/v2/${repository}/tags/list`, "tags", [repositoryScope(repository, "pull")], options);
}

async function* paginate(session: RegistrySession, path: string, field: "repositories" | "tags", scopes: readonly Scope[], options: ListOptions): AsyncIterable<string> {
  let pageSize = options.pageSize;
  const first = new URLSearchParams();
  if (pageSize !== undefined) first.set("n", String(pageSize));
  if (options.last !== undefined) first.set("last", options.last);
  let next: string | undefined = first.size > 0 ? `${path}?${first}` : path;
  const visited = new Set<string>();
  const seen = new Set<string>();
  for (let page = 0; next !== undefined; page++) {
    if (page >= MAX_PAGES) throw new ProtocolError(`${path}: more than ${MAX_PAGES} pages`);
    // Pages are told apart without their scheme: the first may be resolved before the scheme is known.
    const target = session.resolve(next);
    const key = `${target.host}${target.pathname}${target.search}`;
    if (visited.has(key)) throw new ProtocolError(`${path}: pagination loops back to ${bounded(next)}`);
    visited.add(key);
    let response: HttpResponse;
    try {
      response = await session.send({ method: "GET", path: next, scopes, expect: [200], maxBytes: LISTING_PAGE_LIMIT, signal: options.signal });
    } catch (err) {
      // distribution refuses an `n` above its catalog.maxentries: fall back to the server's own page size.
      if (!(err instanceof RegistryError && err.code === "PAGINATION_NUMBER_INVALID" && pageSize !== undefined)) throw err;
      pageSize = undefined;
      next = withoutPageSize(next);
      visited.delete(key);
      continue;
    }
    // The URL that answered, with the scheme actually used: messages and relative links go by it.
    const url = response.url;
    const entries = readListPage(await response.json(LISTING_PAGE_LIMIT), field, redactUrl(url));
    for (const entry of entries) {
      // A registry that resends an entry across pages must not make us report it twice.
      if (seen.has(entry)) continue;
      seen.add(entry);
      yield entry;
    }
    // RFC 8288: a relative target is relative to the page that carried it, not to the registry root.
    const link = nextLink(allHeaders(response.headers, "link"));
    next = link === undefined ? undefined : resolveLink(link, url);
    // No Link but a full page of the size we asked for: ask for what comes after the last entry.
    if (next === undefined && pageSize !== undefined && entries.length === pageSize && entries.length > 0) {
      next = `${path}?${new URLSearchParams({ n: String(pageSize), last: entries[entries.length - 1] ?? "" })}`;
    }
  }
}

/** RFC 8288 Link header: the rel="next" target that registries use for pagination. */
export function nextLink(values: readonly string[]): string | undefined {
  for (const value of values) {
    // Links are comma separated, but URLs may hold commas: split only before a "<".
    for (const link of value.split(/,\s*(?=<)/)) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(link);
      if (!match) continue;
      const params = match[2] ?? "";
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
      const rels = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
      if (rels.includes("next")) return match[1];
    }
  }
  return undefined;
}

function resolveLink(link: string, page: string): string {
  try {
    return new URL(link, page).toString();
  } catch (err) {
    throw new ProtocolError(`${page}: Link header target ${quoted(link)} is not a URL`, { cause: err });
  }
}

function withoutPageSize(pathAndQuery: string): string {
  const url = new URL(pathAndQuery, "http://placeholder");
  url.searchParams.delete("n");
  return url.search === "" ? url.pathname : `${url.pathname}${url.search}`;
}

function readListPage(body: unknown, field: "repositories" | "tags", url: string): string[] {
  if (typeof body !== "object" || body === null) throw new ProtocolError(`${url}: listing is not a JSON object`);
  const list = (body as Record<string, unknown>)[field];
  // Registries answer `"tags": null` for a repository without tags.
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list) || !list.every((e): e is string => typeof e === "string")) {
    throw new ProtocolError(`${url}: "${field}" is not a list of strings`);
  }
  return list;
}
