/**
 * A Quay stand-in that behaves as /work/shared/quay-api.md says Quay does (read from Quay's
 * source), quirks included, so quayside's Quay client is tested against Quay's behaviour and not
 * against a guess:
 *
 * REST API v1 (/api/v1/): Bearer tokens only (an unknown token is anonymous, never a 401);
 * repository listings in creation order, pages of 100, an opaque stateless next_page cursor that
 * is absent on the last page and silently restarts at page one when invalid or expired; private
 * or unknown organizations list as empty; tags ordered by start time, limit clamped to 1..100,
 * permission checked before existence (401 anonymous, 403 without permission, 404 only with
 * namespace read); a 308 to the trailing-slash form; deletes, PUT, and 429 with an HTML body and
 * no Retry-After when asked to.
 *
 * /v2/: every request needs a token from /v2/auth; an unknown repository, or one the caller may
 * not read, is a 401 UNAUTHORIZED (never NAME_UNKNOWN); tags/list pages by 100 with relative
 * Links and is served from the same tag table as the REST API; manifests by tag resolve through
 * it; manifests by digest and blobs are served by a real registry behind (the "backend"), where
 * repository ORG/REPO is stored as PREFIX/ORG/REPO.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { closeServer, endToEnd, listenLoopback, readBody } from "./http-util.js";

export type Permission = "read" | "write" | "admin";

export interface QuayTagSeed {
  name: string;
  digest: string;
  /** Seconds since the epoch. */
  start: number;
  /** Seconds since the epoch: in the past, an expired (deleted) tag; in the future, one that expires. */
  end?: number;
  manifestList?: boolean;
  size?: number | null;
  immutable?: boolean;
}

export interface QuayRepositorySeed {
  name: string;
  public: boolean;
  description?: string;
  /** The tag history: several entries may share a name (only one of them alive). */
  tags?: QuayTagSeed[];
}

export interface QuayUserSeed {
  /** The token given as `Authorization: Bearer TOKEN` (REST) or as the password (/v2/auth). */
  token: string;
  name: string;
  /** "org" (the whole namespace) or "org/repo", and what may be done there. */
  grants: Record<string, Permission>;
}

export interface QuayFixtureOptions {
  users?: QuayUserSeed[];
  /** A real registry holding what /v2/ serves by digest (blobs, manifests). */
  backend?: string;
  /** Where ORG/REPO lives in the backend: PREFIX/ORG/REPO (default: a random one). */
  backendPrefix?: string;
  /** Added before every /api/ answer (a far away Quay). */
  latencyMs?: number;
  /** Up to this much more, at random: answers complete out of order. */
  jitterMs?: number;
}

export interface QuayRequestRecord {
  method: string;
  /** Path and query as sent. */
  path: string;
  area: "api" | "v2" | "auth" | "other";
  status: number;
  /** The scheme of the Authorization header sent, if any. */
  auth: string | undefined;
  /** When it arrived (Date.now()): the spacing a --rate should give. */
  time: number;
}

interface Tag extends QuayTagSeed {}

interface Repository {
  id: number;
  namespace: string;
  name: string;
  public: boolean;
  description: string;
  tags: Tag[];
}

interface User {
  name: string;
  grants: Record<string, Permission>;
}

interface Fault {
  status: number;
  remaining: number;
  match: RegExp | undefined;
}

const PAGE_SIZE = 100;
const RANK: Record<Permission, number> = { read: 1, write: 2, admin: 3 };
/** Quay's own truthiness of query booleans: everything but these is true. */
const FALSY = new Set(["false", "False", "FALSE", "0", "", "null"]);
const TAG_NAME = /^[\w][\w.-]{0,127}$/;
const V2_TOKEN_LIFETIME_S = 3600;
const CURSOR_LIFETIME_S = 2 * 24 * 3600;

const now = (): number => Date.now() / 1000;

/** Quay's time format for last_modified and expiration: "Fri, 20 Mar 2026 22:57:46 -0000". */
export function quayDate(seconds: number): string {
  return new Date(Math.floor(seconds) * 1000).toUTCString().replace(/GMT$/, "-0000");
}

function truthy(value: string | null): boolean {
  return value !== null && !FALSY.has(value);
}

export class QuayFixture {
  readonly users = new Map<string, User>();
  readonly requests: QuayRequestRecord[] = [];
  latencyMs: number;
  jitterMs: number;
  private readonly repositories: Repository[] = [];
  private nextId = 1;
  private cursorKey = randomBytes(32);
  private readonly v2Tokens = new Map<string, { user: User | undefined; access: Map<string, Set<string>>; expires: number }>();
  private faults: Fault[] = [];
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { message: `fixture: ${String(error)}` });
      else res.destroy();
    });
  });
  /** "127.0.0.1:PORT": the registry part of references, and the REST API's host. */
  host = "";
  url = "";
  readonly backendPrefix: string;

  constructor(private readonly options: QuayFixtureOptions = {}) {
    for (const user of options.users ?? []) this.users.set(user.token, { name: user.name, grants: user.grants });
    this.latencyMs = options.latencyMs ?? 0;
    this.jitterMs = options.jitterMs ?? 0;
    this.backendPrefix = options.backendPrefix ?? `quayfx-${randomBytes(4).toString("hex")}`;
  }

  static async start(options: QuayFixtureOptions = {}): Promise<QuayFixture> {
    const fixture = new QuayFixture(options);
    const port = await listenLoopback(fixture.server);
    fixture.host = `127.0.0.1:${port}`;
    fixture.url = `http://${fixture.host}`;
    return fixture;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  // ---- seeding and inspection -----------------------------------------------------------

  /** Create a repository (ids follow creation order, as Quay lists them). */
  addRepository(namespace: string, seed: QuayRepositorySeed): void {
    if (this.find(namespace, seed.name)) throw new Error(`${namespace}/${seed.name} exists`);
    this.repositories.push({
      id: this.nextId++,
      namespace,
      name: seed.name,
      public: seed.public,
      description: seed.description ?? "",
      tags: (seed.tags ?? []).map((t) => ({ ...t })),
    });
  }

  addTag(namespace: string, repository: string, tag: QuayTagSeed): void {
    const repo = this.find(namespace, repository);
    if (!repo) throw new Error(`no repository ${namespace}/${repository}`);
    repo.tags.push({ ...tag });
  }

  /** The alive tag of that name, if any. */
  activeTag(namespace: string, repository: string, name: string): QuayTagSeed | undefined {
    const repo = this.find(namespace, repository);
    return repo?.tags.find((t) => t.name === name && isActive(t));
  }

  hasRepository(namespace: string, repository: string): boolean {
    return this.find(namespace, repository) !== undefined;
  }

  /** Every cursor handed out so far becomes invalid (as when Quay's 2 days pass, or its key rotates). */
  expireCursors(): void {
    this.cursorKey = randomBytes(32);
  }

  /** Answer the next `count` requests whose path matches with `status` (429: an HTML body and no Retry-After, as nginx does). */
  failNext(status: number, count: number, match?: RegExp): void {
    this.faults.push({ status, remaining: count, match });
  }

  clearFaults(): void {
    this.faults = [];
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /** Requests of one area ("api", "v2", "auth"). */
  requestsTo(area: QuayRequestRecord["area"]): QuayRequestRecord[] {
    return this.requests.filter((r) => r.area === area);
  }

  /**
   * Make `digest` (an image or an index, with everything it references) readable through /v2/ in
   * NAMESPACE/REPOSITORY: mounted and put in the backend from `sourceRepository` of the backend.
   */
  async placeImage(namespace: string, repository: string, sourceRepository: string, digest: string): Promise<void> {
    const backend = this.options.backend;
    if (backend === undefined) throw new Error("placeImage needs a backend registry");
    const target = `${this.backendPrefix}/${namespace}/${repository}`;
    const get = async (path: string, accept: string): Promise<{ bytes: Buffer; type: string }> => {
      const res = await fetch(`${backend}${path}`, { headers: { accept }, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
      return { bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get("content-type") ?? "" };
    };
    const place = async (manifestDigest: string): Promise<void> => {
      const { bytes, type } = await get(`/v2/${sourceRepository}/manifests/${manifestDigest}`, MANIFEST_ACCEPT);
      const parsed = JSON.parse(bytes.toString("utf8")) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
      for (const child of parsed.manifests ?? []) await place(child.digest);
      for (const blob of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
        const query = new URLSearchParams({ mount: blob.digest, from: sourceRepository });
        const res = await fetch(`${backend}/v2/${target}/blobs/uploads/?${query}`, { method: "POST", signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        if (res.status !== 201) throw new Error(`mount ${blob.digest} into ${target}: ${res.status}`);
      }
      const res = await fetch(`${backend}/v2/${target}/manifests/${manifestDigest}`, {
        method: "PUT",
        headers: { "content-type": type },
        body: bytes,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`PUT ${target}@${manifestDigest}: ${res.status}`);
    };
    await place(digest);
  }

  // ---- dispatch -------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "/";
    const url = new URL(path, "http://fixture.invalid");
    const area = url.pathname.startsWith("/api/") ? "api" : url.pathname === "/v2/auth" ? "auth" : url.pathname.startsWith("/v2/") ? "v2" : "other";
    const record: QuayRequestRecord = { method: req.method ?? "GET", path, area, status: 0, auth: /^(\w+)\s/.exec(req.headers.authorization ?? "")?.[1], time: Date.now() };
    this.requests.push(record);
    res.on("finish", () => (record.status = res.statusCode));
    if (area === "api" && this.latencyMs + this.jitterMs > 0) await sleep(this.latencyMs + Math.random() * this.jitterMs);
    const fault = this.faults.find((f) => f.remaining > 0 && (f.match === undefined || f.match.test(path)));
    if (fault) {
      fault.remaining--;
      const body = `<html>\r\n<head><title>${fault.status}</title></head>\r\n<body>\r\n<center><h1>${fault.status}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
      res.writeHead(fault.status, { "content-type": "text/html", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (area === "api") return this.api(req, res, url);
    if (area === "auth") return this.v2Auth(req, res, url);
    if (area === "v2") return this.v2(req, res, url);
    htmlNotFound(res);
  }

  // ---- REST API -------------------------------------------------------------------------

  /** Bearer only, scheme matched case-insensitively; an unknown token is anonymous (no 401). */
  private restUser(req: IncomingMessage): User | undefined {
    const match = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return match?.[1] !== undefined ? this.users.get(match[1]) : undefined;
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const user = this.restUser(req);
    const method = req.method ?? "GET";
    const { pathname } = url;
    if (pathname === "/api/v1/repository" || pathname === "/api/v1/repository/") {
      if (method !== "GET") return send(res, 405, { message: "The method is not allowed for the requested URL." });
      return this.listRepositories(res, url, user);
    }
    const tagList = /^\/api\/v1\/repository\/([^/]+)\/(.+)\/tag(\/?)$/.exec(pathname);
    if (tagList && method === "GET") {
      if (tagList[3] === "") {
        // The slash form is canonical: a GET without it is redirected (query kept).
        res.writeHead(308, { location: `${pathname}/${url.search}`, "content-type": "text/html", "content-length": "0" });
        res.end();
        return;
      }
      return this.listTags(res, url, user, decodeURIComponent(tagList[1] ?? ""), decodeURIComponent(tagList[2] ?? ""));
    }
    const oneTag = /^\/api\/v1\/repository\/([^/]+)\/(.+)\/tag\/([^/]+)$/.exec(pathname);
    if (oneTag && (method === "DELETE" || method === "PUT")) {
      const [ns, repo, tag] = [oneTag[1], oneTag[2], oneTag[3]].map((s) => decodeURIComponent(s ?? "")) as [string, string, string];
      return method === "DELETE" ? this.deleteTag(res, user, ns, repo, tag) : this.putTag(req, res, user, ns, repo, tag);
    }
    const repository = /^\/api\/v1\/repository\/([^/]+)\/(.+?)\/?$/.exec(pathname);
    if (repository && method === "DELETE") {
      return this.deleteRepository(res, user, decodeURIComponent(repository[1] ?? ""), decodeURIComponent(repository[2] ?? ""));
    }
    htmlNotFound(res);
  }

  private listRepositories(res: ServerResponse, url: URL, user: User | undefined): void {
    const q = url.searchParams;
    const namespace = q.get("namespace");
    const wantPublic = truthy(q.get("public"));
    const starred = truthy(q.get("starred"));
    if (!namespace && !wantPublic && !starred) {
      return quayError(res, url, 400, "invalid_request", "Missing one of the following parameters: namespace, starred, public");
    }
    if (starred && user === undefined) {
      res.writeHead(400, { "content-type": "text/html", "content-length": "0" });
      res.end();
      return;
    }
    const kind = q.get("repo_kind") ?? "image";
    const visible = this.repositories
      .filter((r) => (namespace ? r.namespace === namespace : true) && kind === "image")
      .filter((r) => (user !== undefined && this.permission(user, r.namespace, r.name) !== undefined) || (wantPublic && r.public))
      // Starring is not modelled: nobody starred anything.
      .filter(() => !starred);
    const after = this.readCursor(q.get("next_page"));
    const rest = after === undefined ? visible : visible.filter((r) => r.id > after);
    const page = rest.slice(0, PAGE_SIZE);
    const lastModified = truthy(q.get("last_modified"));
    const body: { repositories: unknown[]; next_page?: string } = {
      repositories: page.map((r) => ({
        namespace: r.namespace,
        name: r.name,
        description: r.description,
        is_public: r.public,
        kind: "image",
        state: "NORMAL",
        ...(lastModified ? { last_modified: lastModifiedOf(r) } : {}),
        ...(user !== undefined ? { is_starred: false } : {}),
      })),
    };
    const last = page[page.length - 1];
    if (rest.length > page.length && last !== undefined) body.next_page = this.makeCursor(last.id);
    send(res, 200, body);
  }

  /** Fernet-like: "gAAAAA" + URL-safe base64 with padding; stateless, valid 2 days, garbled -> undefined. */
  private makeCursor(afterId: number): string {
    const payload = Buffer.from(JSON.stringify({ a: afterId, e: Math.floor(now()) + CURSOR_LIFETIME_S }));
    const mac = createHmac("sha256", this.cursorKey).update(payload).digest();
    return `gAAAAA${Buffer.concat([mac, payload]).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")}`;
  }

  private readCursor(token: string | null): number | undefined {
    if (token === null || !token.startsWith("gAAAAA")) return undefined;
    const raw = Buffer.from(token.slice(6).replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (raw.length <= 32) return undefined;
    const mac = raw.subarray(0, 32);
    const payload = raw.subarray(32);
    if (!createHmac("sha256", this.cursorKey).update(payload).digest().equals(mac)) return undefined;
    try {
      const { a, e } = JSON.parse(payload.toString("utf8")) as { a: number; e: number };
      return e > now() ? a : undefined;
    } catch {
      return undefined;
    }
  }

  /** Permission of `user` on namespace/repo: a grant on the repository, else on the namespace. */
  private permission(user: User, namespace: string, repo: string): Permission | undefined {
    const onRepo = user.grants[`${namespace}/${repo}`];
    const onNamespace = user.grants[namespace];
    if (onRepo === undefined) return onNamespace;
    if (onNamespace === undefined) return onRepo;
    return RANK[onRepo] >= RANK[onNamespace] ? onRepo : onNamespace;
  }

  /** Quay's order: permission first, then existence. Returns the repository, or answers and returns undefined. */
  private authorize(res: ServerResponse, user: User | undefined, ns: string, name: string, needed: Permission): Repository | undefined {
    const repo = this.find(ns, name);
    const url = new URL(`${this.url}/api/v1/repository/${ns}/${name}`);
    const publicRead = needed === "read" && repo?.public === true;
    const granted = user === undefined ? undefined : this.permission(user, ns, name);
    if (!publicRead && (granted === undefined || RANK[granted] < RANK[needed])) {
      if (user === undefined) {
        quayError(res, url, 401, "invalid_token", "Requires authentication");
        return undefined;
      }
      quayError(res, url, 403, "insufficient_scope", "Unauthorized");
      return undefined;
    }
    if (repo === undefined) {
      quayError(res, url, 404, "not_found", "Not Found");
      return undefined;
    }
    return repo;
  }

  private listTags(res: ServerResponse, url: URL, user: User | undefined, ns: string, name: string): void {
    const q = url.searchParams;
    const badInteger = (["limit", "page"] as const).find((p) => q.has(p) && !/^-?\d+$/.test(q.get(p) ?? ""));
    if (badInteger !== undefined) {
      return send(res, 400, { message: { [badInteger]: `invalid literal for int() with base 10: '${q.get(badInteger) ?? ""}'` } });
    }
    const filter = q.get("filter_tag_name");
    if (filter !== null && !filter.includes(":")) {
      return quayError(res, url, 400, "invalid_request", "Filter must be of the form 'like:value' or 'eq:value'");
    }
    const repo = this.authorize(res, user, ns, name, "read");
    if (!repo) return;
    const limit = Math.min(100, Math.max(1, Number(q.get("limit") ?? 50)));
    const page = Math.max(1, Number(q.get("page") ?? 1));
    const specific = q.get("specificTag");
    const onlyActive = truthy(q.get("onlyActiveTags"));
    const [op, value] = filter === null ? [undefined, ""] : [filter.slice(0, filter.indexOf(":")), filter.slice(filter.indexOf(":") + 1)];
    const matching = repo.tags
      .filter((t) => specific === null || t.name === specific)
      .filter((t) => !onlyActive || isActive(t))
      .filter((t) => op === undefined || (op === "eq" ? t.name === value : t.name.toLowerCase().includes(value.toLowerCase())))
      .sort((a, b) => b.start - a.start || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const slice = matching.slice((page - 1) * limit, page * limit);
    send(res, 200, {
      tags: slice.map((t) => ({
        name: t.name,
        reversion: false,
        manifest_digest: t.digest,
        is_manifest_list: t.manifestList ?? false,
        size: t.size === undefined ? null : t.size,
        start_ts: t.start,
        last_modified: quayDate(t.start),
        ...(t.end !== undefined ? { end_ts: t.end, expiration: quayDate(t.end) } : {}),
        ...(t.immutable !== undefined ? { immutable: t.immutable } : {}),
        ...(t.manifestList ? { is_sparse: false, child_manifest_count: 0, present_child_count: 0 } : {}),
      })),
      page,
      has_additional: matching.length > page * limit,
    });
  }

  private deleteTag(res: ServerResponse, user: User | undefined, ns: string, name: string, tagName: string): void {
    const repo = this.authorize(res, user, ns, name, "write");
    if (!repo) return;
    const url = new URL(`${this.url}/api/v1/repository/${ns}/${name}/tag/${tagName}`);
    const tag = repo.tags.find((t) => t.name === tagName && isActive(t));
    if (!tag) return quayError(res, url, 404, "not_found", "Not Found");
    if (tag.immutable) return quayError(res, url, 409, "tag_immutable", `Tag ${tagName} is immutable`);
    // The tag stays in the history, ended now.
    tag.end = Math.floor(now());
    res.writeHead(204);
    res.end();
  }

  private async putTag(req: IncomingMessage, res: ServerResponse, user: User | undefined, ns: string, name: string, tagName: string): Promise<void> {
    const body = (await readBody(req)).toString("utf8");
    const repo = this.authorize(res, user, ns, name, "write");
    if (!repo) return;
    const url = new URL(`${this.url}/api/v1/repository/${ns}/${name}/tag/${tagName}`);
    if (!TAG_NAME.test(tagName)) return quayError(res, url, 400, "invalid_request", "Invalid tag name");
    let digest: unknown;
    try {
      digest = (JSON.parse(body) as { manifest_digest?: unknown }).manifest_digest;
    } catch {
      return send(res, 400, { message: "The browser (or proxy) sent a request that this server could not understand." });
    }
    if (typeof digest !== "string") return send(res, 400, { message: { manifest_digest: "Missing required parameter" } });
    const known = repo.tags.some((t) => t.digest === digest) || (await this.backendHas(ns, name, digest));
    if (!known) return quayError(res, url, 404, "not_found", "Not Found");
    const current = repo.tags.find((t) => t.name === tagName && isActive(t));
    if (current?.immutable) return quayError(res, url, 409, "tag_immutable", `Tag ${tagName} is immutable`);
    const at = Math.floor(now());
    if (current) current.end = at;
    const manifestList = repo.tags.find((t) => t.digest === digest)?.manifestList ?? false;
    repo.tags.push({ name: tagName, digest, start: at, manifestList });
    send(res, 201, "Updated");
  }

  private deleteRepository(res: ServerResponse, user: User | undefined, ns: string, name: string): void {
    const repo = this.find(ns, name);
    const url = new URL(`${this.url}/api/v1/repository/${ns}/${name}`);
    const granted = user === undefined ? undefined : this.permission(user, ns, name);
    if (user === undefined) return quayError(res, url, 401, "invalid_token", "Requires authentication");
    if (granted !== "admin") return quayError(res, url, 403, "insufficient_scope", "Unauthorized");
    // 204 whether or not it existed.
    if (repo) this.repositories.splice(this.repositories.indexOf(repo), 1);
    res.writeHead(204);
    res.end();
  }

  private async backendHas(ns: string, name: string, digest: string): Promise<boolean> {
    if (this.options.backend === undefined) return false;
    const res = await fetch(`${this.options.backend}/v2/${this.backendPrefix}/${ns}/${name}/manifests/${digest}`, {
      method: "HEAD",
      headers: { accept: MANIFEST_ACCEPT },
      signal: AbortSignal.timeout(10_000),
    });
    return res.status === 200;
  }

  private find(namespace: string, name: string): Repository | undefined {
    return this.repositories.find((r) => r.namespace === namespace && r.name === name);
  }

  // ---- /v2/ -----------------------------------------------------------------------------

  /** The registry token endpoint: Basic with the REST token as password (robots, $oauthtoken), or anonymous. */
  private v2Auth(req: IncomingMessage, res: ServerResponse, url: URL): void {
    let user: User | undefined;
    const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (basic?.[1] !== undefined) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      user = this.users.get(decoded.slice(decoded.indexOf(":") + 1));
      if (user === undefined) return send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "Invalid Username or Password" }] });
    }
    const access = new Map<string, Set<string>>();
    for (const scope of url.searchParams.getAll("scope").flatMap((s) => s.split(" "))) {
      const match = /^repository:([^/]+)\/(.+):([\w,]+)$/.exec(scope);
      if (!match) continue;
      const [ns, name, actions] = [match[1] ?? "", match[2] ?? "", (match[3] ?? "").split(",")];
      const repo = this.find(ns, name);
      const granted = user === undefined ? undefined : this.permission(user, ns, name);
      const allowed = new Set<string>();
      // An unknown repository gets nothing: its requests will answer 401, as Quay's do.
      if (repo !== undefined) {
        if (actions.includes("pull") && (repo.public || granted !== undefined)) allowed.add("pull");
        if (actions.includes("push") && granted !== undefined && RANK[granted] >= RANK.write) allowed.add("push");
      }
      access.set(`${ns}/${name}`, allowed);
    }
    const token = randomBytes(24).toString("base64url");
    this.v2Tokens.set(token, { user, access, expires: now() + V2_TOKEN_LIFETIME_S });
    // Quay's body: the token alone, no expires_in.
    send(res, 200, { token });
  }

  private challenge(scope?: string): string {
    return `Bearer realm="${this.url}/v2/auth",service="${this.host}"${scope ? `,scope="${scope}"` : ""}`;
  }

  private unauthorized(res: ServerResponse, scope?: string): void {
    send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "access to the requested resource is not authorized", detail: [] }] }, { "www-authenticate": this.challenge(scope) });
  }

  private async v2(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const bearer = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = bearer === undefined ? undefined : this.v2Tokens.get(bearer);
    const valid = token !== undefined && token.expires > now();
    if (url.pathname === "/v2/") {
      if (!valid) return this.unauthorized(res);
      return send(res, 200, {});
    }
    const match = /^\/v2\/([^/]+)\/(.+)\/(manifests|blobs|tags|referrers)\/(.+)$/.exec(url.pathname);
    if (!match) return send(res, 404, { errors: [{ code: "UNSUPPORTED", message: "not supported here" }] });
    const [ns, name, kind, rest] = [match[1] ?? "", match[2] ?? "", match[3] ?? "", match[4] ?? ""];
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      return send(res, 405, { errors: [{ code: "UNSUPPORTED", message: "the fixture serves pulls only" }] });
    }
    const scope = `repository:${ns}/${name}:pull`;
    if (!valid || !token.access.get(`${ns}/${name}`)?.has("pull")) return this.unauthorized(res, scope);
    const repo = this.find(ns, name);
    if (repo === undefined) return this.unauthorized(res, scope);
    if (kind === "tags" && rest === "list") return this.v2Tags(res, url, repo);
    let target = rest;
    if (kind === "manifests" && !rest.includes(":")) {
      const tag = repo.tags.find((t) => t.name === rest && isActive(t));
      if (tag === undefined) {
        const expired = repo.tags.some((t) => t.name === rest);
        return send(res, 404, { errors: [{ code: expired ? "TAG_EXPIRED" : "MANIFEST_UNKNOWN", message: expired ? "Tag has expired" : "manifest unknown", detail: { tag: rest } }] });
      }
      target = tag.digest;
    }
    await this.forward(req, res, `/v2/${this.backendPrefix}/${ns}/${name}/${kind}/${target}`);
  }

  /** Pages of at most 100 names, `last` exclusive, a relative Link to the next page. */
  private v2Tags(res: ServerResponse, url: URL, repo: Repository): void {
    const requested = Number.parseInt(url.searchParams.get("n") ?? "", 10);
    const size = requested > 0 ? Math.min(requested, 100) : 100;
    const last = url.searchParams.get("last");
    const names = [...new Set(repo.tags.filter(isActive).map((t) => t.name))].sort();
    const rest = last === null ? names : names.filter((n) => n > last);
    const page = rest.slice(0, size);
    const headers: Record<string, string> = {};
    const lastOfPage = page[page.length - 1];
    if (rest.length > page.length && lastOfPage !== undefined) {
      headers.link = `</v2/${repo.namespace}/${repo.name}/tags/list?${new URLSearchParams({ n: String(size), last: lastOfPage })}>; rel="next"`;
    }
    send(res, 200, { name: `${repo.namespace}/${repo.name}`, tags: page }, headers);
  }

  private forward(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const backend = this.options.backend;
    if (backend === undefined) {
      send(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "no backend registry" }] });
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      for (const name of ["accept", "range"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const out = httpRequest(new URL(path, backend), { method: req.method, headers, timeout: 60_000 }, (up) => {
        res.writeHead(up.statusCode ?? 502, endToEnd(up.headers));
        up.pipe(res);
        up.on("end", resolve);
        up.on("error", reject);
      });
      out.on("timeout", () => out.destroy(new Error("backend timed out")));
      out.on("error", reject);
      out.end();
    });
  }
}

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function isActive(tag: QuayTagSeed): boolean {
  return tag.end === undefined || tag.end > now();
}

/** The newest start time of the repository's alive tags, or null when it has none. */
function lastModifiedOf(repo: Repository): number | null {
  const alive = repo.tags.filter(isActive);
  return alive.length === 0 ? null : Math.max(...alive.map((t) => t.start));
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(data.length), ...headers });
  res.end(data);
}

/** Quay's own error body; `type` is a URL on the server's own host. */
function quayError(res: ServerResponse, url: URL, status: number, errorType: string, detail: string): void {
  send(res, status, {
    detail,
    error_message: detail,
    error_type: errorType,
    title: errorType,
    type: `${url.protocol}//${url.host}/api/v1/error/${errorType}`,
    status,
  });
}

function htmlNotFound(res: ServerResponse): void {
  const body = "<!doctype html><title>404 Not Found</title><h1>Not Found</h1>";
  res.writeHead(404, { "content-type": "text/html", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
