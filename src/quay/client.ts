/**
 * QuayClient: Quay's REST API v1 (/api/v1/) on the one HTTP stack (pooling, retries, TLS, the
 * redacted log), as Quay really behaves (/work/shared/quay-api.md): Bearer tokens only, an
 * unknown token silently anonymous, private organizations listed as empty, cursors that restart
 * at page one when they expire, permission checked before existence, 429s without Retry-After.
 */
import { InsecureRequestError, NotFoundError, ProtocolError, QuayApiError, UsageError } from "../errors.js";
import { hostnameOf, isLoopbackHost, portOf } from "../http/hosts.js";
import { probeTls } from "../http/tls-probe.js";
import { quayRetryPolicy } from "../http/retry.js";
import { HttpClient, type HttpClientOptions, type HttpResponse } from "../http/transport.js";
import { isValidTag } from "../ref/reference.js";
import { MAX_PAGES, SMALL_JSON_LIMIT } from "../util/limits.js";

export const DEFAULT_QUAY_URL = "https://quay.io";
export { DEFAULT_RATE_LIMIT_BUDGET_MS } from "../http/retry.js";
const TAG_PAGE = 100;
/** One page of the API read into memory (100 repositories with their descriptions). */
const PAGE_BYTES_LIMIT = 32 * 1024 * 1024;

export interface QuayClientOptions extends HttpClientOptions {
  /** The Quay server: "https://quay.io" (default), "quay.example.com", "http://127.0.0.1:8080". */
  url?: string | undefined;
  /** A Quay OAuth application or robot token, sent as `Authorization: Bearer`. Without one: anonymous. */
  token?: string | undefined;
  /** Allow plain HTTP (and the token over it) to a host that is not loopback. */
  plainHttp?: boolean | undefined;
  /** Share an HTTP stack (and its pools) with other clients. */
  http?: HttpClient | undefined;
}

export interface QuayRequestOptions {
  signal?: AbortSignal | undefined;
}

export interface QuayRepository {
  namespace: string;
  name: string;
  isPublic: boolean;
  description: string | null;
  kind: string;
  state: string | undefined;
  /** With `lastModified`: the newest start (seconds) of its alive tags, null when it has none. */
  lastModified?: number | null;
}

export interface QuayTag {
  name: string;
  /** The digest the tag points at: known without any /v2/ request. */
  manifestDigest: string;
  isManifestList: boolean;
  size: number | null;
  /** Seconds since the epoch. */
  startTs?: number;
  /** Seconds since the epoch; in the past for an expired tag, in the future for one that will expire. */
  endTs?: number;
  /** Quay's RFC 2822 texts of the two times. */
  lastModified?: string;
  expiration?: string;
  immutable?: boolean;
}

export interface RepositoryListOptions extends QuayRequestOptions {
  /** Also every public repository of the namespace (default true: what an anonymous caller can see). */
  public?: boolean | undefined;
  /** Ask for each repository's last_modified. */
  lastModified?: boolean | undefined;
}

export interface TagListOptions extends QuayRequestOptions {
  /** Expired tags too (the history); default: active ones only. */
  all?: boolean | undefined;
  /** Quay's filter_tag_name: a case-insensitive substring (`like`), or an exact name (`eq`). */
  filter?: { like: string } | { eq: string } | undefined;
}

/** The REST calls of one Quay server. */
export class QuayClient {
  /** The Quay host as references name it: "quay.io", "127.0.0.1:8080". */
  readonly host: string;
  readonly http: HttpClient;
  private readonly token: string | undefined;
  private readonly ownsHttp: boolean;
  private scheme: "https" | "http" | undefined;
  private schemeProbe: Promise<void> | undefined;

  constructor(options: QuayClientOptions = {}) {
    const { host, scheme } = parseQuayUrl(options.url ?? DEFAULT_QUAY_URL, options.plainHttp === true);
    this.host = host;
    this.scheme = scheme;
    this.token = options.token === "" ? undefined : options.token;
    this.ownsHttp = options.http === undefined;
    this.http = options.http ?? new HttpClient({ ...options, retry: quayRetryPolicy(options.retry) });
  }

  /** Whether a token is sent (a listing that comes back empty without one may be a private organization). */
  get authenticated(): boolean {
    return this.token !== undefined;
  }

  close(): Promise<void> {
    return this.ownsHttp ? this.http.close() : Promise.resolve();
  }

  // ---- repositories -----------------------------------------------------------------------

  /**
   * Every repository of a namespace, page by page (100 each, in creation order). Quay restarts an
   * expired or garbled cursor at page one without a word: a repository or a cursor seen before
   * ends the listing with an error instead of an endless loop.
   */
  async *repositories(namespace: string, options: RepositoryListOptions = {}): AsyncGenerator<QuayRepository> {
    const seen = new Set<string>();
    const cursors = new Set<string>();
    let next: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Record<string, string> = { namespace, public: String(options.public ?? true) };
      if (options.lastModified) query["last_modified"] = "true";
      if (next !== undefined) query["next_page"] = next;
      const body = await this.getJson(`/api/v1/repository`, query, `repositories of ${this.host}/${namespace}`, { namespace }, options);
      const repositories = arrayField(body, "repositories");
      for (const raw of repositories) {
        const repo = toRepository(raw);
        const key = `${repo.namespace}/${repo.name}`;
        if (seen.has(key)) {
          throw new ProtocolError(
            `the listing of ${this.host}/${namespace} came back to ${key}, already listed: Quay restarts at page one when a next_page cursor has expired or is invalid; run it again`,
          );
        }
        seen.add(key);
        yield repo;
      }
      const cursor = (body as { next_page?: unknown }).next_page;
      if (cursor === undefined || cursor === null || cursor === "") return;
      if (typeof cursor !== "string") throw new ProtocolError(`repositories of ${this.host}/${namespace}: next_page is not a string`);
      if (cursors.has(cursor)) throw new ProtocolError(`the listing of ${this.host}/${namespace} handed out the cursor of a page already read; stopping`);
      cursors.add(cursor);
      next = cursor;
    }
    throw new ProtocolError(`the listing of ${this.host}/${namespace} went on for more than ${MAX_PAGES} pages; stopping`);
  }

  /** Every repository name of a namespace, all pages (occystrap's listRepositories). */
  async listRepositories(namespace: string, options: RepositoryListOptions = {}): Promise<string[]> {
    const names: string[] = [];
    for await (const repo of this.repositories(namespace, options)) names.push(repo.name);
    return names;
  }

  // ---- tags -------------------------------------------------------------------------------

  /** One active tag (one request), or undefined when the repository has no such tag alive. */
  async tag(namespace: string, repository: string, tag: string, options: QuayRequestOptions = {}): Promise<QuayTag | undefined> {
    const query = { specificTag: tag, onlyActiveTags: "true", limit: "1" };
    const body = await this.getJson(this.tagsPath(namespace, repository), query, `tag ${this.host}/${namespace}/${repository}:${tag}`, { namespace, repository }, options);
    return arrayField(body, "tags").map(toTag).find((t) => t.name === tag);
  }

  /** Does the repository have this tag alive? A 404 (no such repository, for a namespace member) is false. */
  async hasTag(namespace: string, repository: string, tag: string, options: QuayRequestOptions = {}): Promise<boolean> {
    try {
      return (await this.tag(namespace, repository, tag, options)) !== undefined;
    } catch (err) {
      if (err instanceof QuayApiError && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Every tag of a repository, page by page (100 each, newest first), active ones unless `all`.
   * Pages are offsets: a tag pushed meanwhile may shift one onto the next page, so names seen
   * already are skipped rather than listed twice.
   */
  async *tags(namespace: string, repository: string, options: TagListOptions = {}): AsyncGenerator<QuayTag> {
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query: Record<string, string> = { limit: String(TAG_PAGE), page: String(page) };
      if (!options.all) query["onlyActiveTags"] = "true";
      if (options.filter !== undefined) query["filter_tag_name"] = "like" in options.filter ? `like:${options.filter.like}` : `eq:${options.filter.eq}`;
      const body = await this.getJson(this.tagsPath(namespace, repository), query, `tags of ${this.host}/${namespace}/${repository}`, { namespace, repository }, options);
      for (const tag of arrayField(body, "tags").map(toTag)) {
        const key = options.all ? `${tag.name}\0${tag.startTs ?? ""}` : tag.name;
        if (seen.has(key)) continue;
        seen.add(key);
        yield tag;
      }
      if ((body as { has_additional?: unknown }).has_additional !== true) return;
    }
    throw new ProtocolError(`tags of ${this.host}/${namespace}/${repository} went on for more than ${MAX_PAGES} pages; stopping`);
  }

  // ---- changes ----------------------------------------------------------------------------

  /** Delete (end) a tag: "deleted", or "absent" when it was not alive (a 404: pubtools-quay logs it and goes on). */
  async deleteTag(namespace: string, repository: string, tag: string, options: QuayRequestOptions = {}): Promise<"deleted" | "absent"> {
    requireTag(tag);
    try {
      const res = await this.send("DELETE", `${this.tagsPath(namespace, repository)}${encodeURIComponent(tag)}`, {}, undefined, `delete tag ${this.host}/${namespace}/${repository}:${tag}`, { namespace, repository, needs: "write" }, options);
      await res.dump();
      return "deleted";
    } catch (err) {
      if (err instanceof QuayApiError && err.status === 404) return "absent";
      throw err;
    }
  }

  /** Create or move a tag to a manifest already in the repository. */
  async setTag(namespace: string, repository: string, tag: string, digest: string, options: QuayRequestOptions = {}): Promise<void> {
    requireTag(tag);
    const what = `set tag ${this.host}/${namespace}/${repository}:${tag} to ${digest}`;
    try {
      const res = await this.send("PUT", `${this.tagsPath(namespace, repository)}${encodeURIComponent(tag)}`, {}, JSON.stringify({ manifest_digest: digest }), what, { namespace, repository, needs: "write" }, options);
      await res.dump();
    } catch (err) {
      if (err instanceof QuayApiError && err.status === 404) {
        throw new NotFoundError(`${what}: manifest ${digest} is not in ${namespace}/${repository} (Quay moves a tag only to a manifest the repository holds)`, { cause: err });
      }
      throw err;
    }
  }

  /** Delete a repository with everything in it (admin permission); done also when it did not exist. */
  async deleteRepository(namespace: string, repository: string, options: QuayRequestOptions = {}): Promise<void> {
    const res = await this.send("DELETE", `/api/v1/repository/${encodeURIComponent(namespace)}/${repositoryPath(repository)}`, {}, undefined, `delete repository ${this.host}/${namespace}/${repository}`, { namespace, repository, needs: "admin" }, options);
    await res.dump();
  }

  // ---- requests ---------------------------------------------------------------------------

  /** The canonical form, trailing slash included (a GET without it is a 308; a DELETE would mean another repository). */
  private tagsPath(namespace: string, repository: string): string {
    return `/api/v1/repository/${encodeURIComponent(namespace)}/${repositoryPath(repository)}/tag/`;
  }

  private async getJson(path: string, query: Record<string, string>, what: string, target: Target, options: QuayRequestOptions): Promise<unknown> {
    const res = await this.send("GET", path, query, undefined, what, { ...target, needs: "read" }, options);
    const text = Buffer.from(await res.bytes(PAGE_BYTES_LIMIT)).toString("utf8");
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ProtocolError(`${what}: Quay's answer is not JSON: ${text.slice(0, 200)}`, { cause: err });
    }
  }

  private async send(method: string, path: string, query: Record<string, string>, body: string | undefined, what: string, target: Target & { needs: Permission }, options: QuayRequestOptions): Promise<HttpResponse> {
    await this.ensureScheme();
    const url = new URL(path, `${this.scheme ?? "https"}://${this.host}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token !== undefined) headers["authorization"] = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.http.request({ method, url, headers, ...(body !== undefined ? { body } : {}), signal: options.signal });
    if (res.status >= 200 && res.status < 300) return res;
    throw await this.apiError(res, method, url, what, target);
  }

  private async apiError(res: HttpResponse, method: string, url: URL, what: string, target: Target & { needs: Permission }): Promise<QuayApiError> {
    let errorType: string | undefined;
    let detail: string | undefined;
    const text = Buffer.from(await res.bytes(SMALL_JSON_LIMIT).catch(() => new Uint8Array())).toString("utf8");
    try {
      const parsed = JSON.parse(text) as { error_type?: unknown; detail?: unknown; error_message?: unknown; message?: unknown };
      errorType = typeof parsed.error_type === "string" ? parsed.error_type : undefined;
      const message = parsed.detail ?? parsed.error_message ?? parsed.message;
      detail = typeof message === "string" ? message : message !== undefined ? JSON.stringify(message) : undefined;
    } catch {
      // An HTML page (nginx's 429, an unknown route): the status says it all.
    }
    return new QuayApiError(res.status, { method, url: url.toString() }, what, errorType, detail, this.hint(res.status, target));
  }

  /** What a status means for this request, and what to do. */
  private hint(status: number, target: Target & { needs: Permission }): string | undefined {
    const where = target.repository !== undefined ? `${target.namespace}/${target.repository}` : target.namespace;
    const pass = "pass a Quay robot or OAuth application token with --quay-token or QUAY_TOKEN";
    switch (status) {
      case 401:
        if (target.needs === "read") return `${where} is private or does not exist (Quay answers 401 to anonymous callers for both): ${pass} that may read it`;
        if (this.token === undefined) return `Quay needs a token with ${target.needs} permission on ${where}: ${pass}`;
        return `Quay did not accept the token for ${where} (expired or revoked?): ${pass} with ${target.needs} permission`;
      case 403:
        return `the token has no ${target.needs} permission on ${where}`;
      case 404:
        return target.repository !== undefined ? `${where} does not exist` : undefined;
      case 409:
        return "the tag is immutable";
      case 429:
        return `Quay kept answering 429 (too many requests) after ${(this.http.retryPolicy.rateLimitBudgetMs ?? 0) / 1000} s of backing off: fewer --jobs or a --rate would stay under its limit`;
      case 503:
        return `${where} is read-only or a mirror`;
      default:
        return undefined;
    }
  }

  /** Loopback hosts named without a scheme: TLS if spoken, else plain HTTP (Docker's rule for registries). */
  private ensureScheme(): Promise<void> {
    if (this.scheme !== undefined) return Promise.resolve();
    this.schemeProbe ??= probeTls(hostnameOf(this.host), portOf(this.host, 443)).then((result) => {
      this.scheme = result === "plain" ? "http" : "https";
    });
    return this.schemeProbe;
  }
}

type Permission = "read" | "write" | "admin";

interface Target {
  namespace: string;
  repository?: string;
}

/**
 * "https://quay.io", "quay.example.com", "http://127.0.0.1:8080" -> host and scheme (undefined:
 * probe a loopback host). Plain HTTP to another host only when asked: the token would travel in clear.
 */
export function parseQuayUrl(text: string, plainHttp: boolean): { host: string; scheme: "https" | "http" | undefined } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(withScheme ? text : `https://${text}`);
  } catch {
    throw new UsageError(`invalid Quay URL ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError(`invalid Quay URL ${JSON.stringify(text)}: http or https only`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.username !== "" || url.password !== "") {
    throw new UsageError(`invalid Quay URL ${JSON.stringify(text)}: give the server only (https://HOST[:PORT]); the API is under /api/v1/`);
  }
  const host = url.host;
  if (url.protocol === "http:" && withScheme && !plainHttp && !isLoopbackHost(host)) {
    throw new InsecureRequestError(`refusing plain HTTP to ${host} (a Quay token would travel in clear): use https, or allow plain HTTP explicitly`);
  }
  if (!withScheme) return { host, scheme: plainHttp ? "http" : isLoopbackHost(host) ? undefined : "https" };
  return { host, scheme: url.protocol === "http:" ? "http" : "https" };
}

/** Each segment of an (extended, slash-holding) repository name encoded, the slashes kept. */
function repositoryPath(repository: string): string {
  return repository.split("/").map(encodeURIComponent).join("/");
}

function requireTag(tag: string): void {
  if (!isValidTag(tag)) throw new UsageError(`${JSON.stringify(tag)} is not a valid tag`);
}

function arrayField(body: unknown, name: string): unknown[] {
  const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (!Array.isArray(value)) throw new ProtocolError(`Quay's answer has no ${name} list`);
  return value as unknown[];
}

function toRepository(raw: unknown): QuayRepository {
  const r = raw as Record<string, unknown>;
  if (typeof r["namespace"] !== "string" || typeof r["name"] !== "string") throw new ProtocolError("Quay listed a repository without namespace or name");
  const repo: QuayRepository = {
    namespace: r["namespace"],
    name: r["name"],
    isPublic: r["is_public"] === true,
    description: typeof r["description"] === "string" ? r["description"] : null,
    kind: typeof r["kind"] === "string" ? r["kind"] : "image",
    state: typeof r["state"] === "string" ? r["state"] : undefined,
  };
  if ("last_modified" in r) repo.lastModified = typeof r["last_modified"] === "number" ? r["last_modified"] : null;
  return repo;
}

function toTag(raw: unknown): QuayTag {
  const t = raw as Record<string, unknown>;
  if (typeof t["name"] !== "string" || typeof t["manifest_digest"] !== "string") throw new ProtocolError("Quay listed a tag without name or manifest_digest");
  const tag: QuayTag = {
    name: t["name"],
    manifestDigest: t["manifest_digest"],
    isManifestList: t["is_manifest_list"] === true,
    size: typeof t["size"] === "number" ? t["size"] : null,
  };
  if (typeof t["start_ts"] === "number") tag.startTs = t["start_ts"];
  if (typeof t["end_ts"] === "number") tag.endTs = t["end_ts"];
  if (typeof t["last_modified"] === "string") tag.lastModified = t["last_modified"];
  if (typeof t["expiration"] === "string") tag.expiration = t["expiration"];
  if (typeof t["immutable"] === "boolean") tag.immutable = t["immutable"];
  return tag;
}
