import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { X509Certificate, createPrivateKey, randomBytes, randomUUID, sign, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { closeServer, listenLoopback, readBody, sendJson } from "./http-util.js";
import type { SigningCertificate } from "./tls.js";

/**
 * A Docker token auth server (https://distribution.github.io/distribution/spec/auth/token/)
 * that the real distribution 2.8 registry accepts. What 2.8 verifies (registry/auth/token):
 * `iss` == auth.token.issuer, `aud` == auth.token.service and must be a single string
 * (an array fails to unmarshal: "malformed token"), `exp`/`nbf` with 60 s leeway, and the
 * signature with a key found via header `x5c` (chain verified against rootcertbundle),
 * `jwk`, or `kid` (a libtrust fingerprint of a rootcertbundle key). We use `x5c` with a
 * self-signed certificate that is itself the rootcertbundle, and ES256 (JOSE r||s signature).
 */

export type Role = "admin" | "reader";

export interface TokenUser {
  username: string;
  password: string;
  role: Role;
}

export interface TokenServerOptions {
  signing: SigningCertificate;
  users: readonly TokenUser[];
  service?: string;
  issuer?: string;
  /** Lifetime of access tokens in seconds (default 300). Note the registry adds 60 s leeway. */
  expiresIn?: number;
  /** Also serve the OAuth2 POST flow on the realm (default true); when false, POST answers 404. */
  oauth2?: boolean;
}

export interface TokenRequestRecord {
  /** Milliseconds since the epoch. */
  time: number;
  method: string;
  /** null for anonymous requests. */
  account: string | null;
  /** "get", "password" or "refresh_token". */
  grantType: string;
  scopes: string[];
  granted: string[];
  status: number;
  clientId?: string;
  offline: boolean;
}

export interface TokenServerStats {
  count: number;
  requests: TokenRequestRecord[];
}

export interface TokenServer {
  url: string;
  realm: string;
  statsUrl: string;
  service: string;
  issuer: string;
  expiresIn: number;
  oauth2: boolean;
  /** The certificate registries must trust (auth.token.rootcertbundle). */
  rootCertBundle: string;
  users: readonly TokenUser[];
  stats(): TokenServerStats;
  reset(): void;
  close(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** "repository:ns/name:pull,push" -> Access; names may hold ':' (host:port), actions never do. */
function parseScope(scope: string): Access | null {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  const actions = scope.slice(last + 1).split(",").filter((a) => a !== "");
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

/** What each account may do; the registry enforces it, so tests see real refusals. */
function allowedActions(role: Role | null, access: Access): string[] {
  if (access.type === "registry" && access.name === "catalog") {
    return role ? ["*"] : [];
  }
  if (access.type !== "repository") return [];
  if (role === "admin") return ["pull", "push", "delete", "*"];
  if (role === "reader") return ["pull"];
  return access.name.startsWith("public/") ? ["pull"] : [];
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const service = options.service ?? "quayside-registry";
  const issuer = options.issuer ?? "quayside-token-server";
  const expiresIn = options.expiresIn ?? 300;
  const oauth2 = options.oauth2 ?? true;
  const key = createPrivateKey(await readFile(options.signing.keyFile));
  const certDer = new X509Certificate(await readFile(options.signing.certFile)).raw.toString("base64");
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [certDer] }));
  const users = new Map(options.users.map((u) => [u.username, u]));
  const refreshTokens = new Map<string, { account: string; service: string }>();
  let records: TokenRequestRecord[] = [];

  function checkPassword(username: string, password: string): TokenUser {
    const user = users.get(username);
    const ok =
      user !== undefined &&
      password.length === user.password.length &&
      timingSafeEqual(Buffer.from(password), Buffer.from(user.password));
    if (!user || !ok) throw new HttpError(401, "UNAUTHORIZED", "invalid username or password");
    return user;
  }

  function issue(account: string | null, requested: Access[]): { jwt: string; granted: Access[]; issuedAt: Date } {
    const role = account === null ? null : (users.get(account)?.role ?? null);
    const granted: Access[] = [];
    for (const access of requested) {
      const allowed = allowedActions(role, access);
      const actions = access.actions.filter((a) => allowed.includes(a));
      if (actions.length > 0) granted.push({ type: access.type, name: access.name, actions });
    }
    const issuedAt = new Date();
    const now = Math.floor(issuedAt.getTime() / 1000);
    const claims = {
      iss: issuer,
      sub: account ?? "",
      aud: service,
      exp: now + expiresIn,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access: granted,
    };
    const signingInput = `${header}.${b64url(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
    return { jwt: `${signingInput}.${b64url(signature)}`, granted, issuedAt };
  }

  const scopeStrings = (values: string[]): string[] => values.flatMap((v) => v.split(" ")).filter((s) => s !== "");
  const toAccess = (scopes: string[]): Access[] => {
    const parsed = scopes.map(parseScope);
    if (parsed.some((a) => a === null)) throw new HttpError(400, "INVALID_SCOPE", "malformed scope");
    return parsed as Access[];
  };
  const formatGranted = (granted: Access[]): string[] => granted.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`);
  const newRefreshToken = (account: string): string => {
    const token = randomBytes(24).toString("base64url");
    refreshTokens.set(token, { account, service });
    return token;
  };

  function handleGet(req: IncomingMessage, url: URL, record: TokenRequestRecord): unknown {
    if (url.searchParams.get("service") !== service) throw new HttpError(400, "INVALID_SERVICE", `service must be ${service}`);
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const match = /^Basic\s+(\S+)$/i.exec(auth);
      if (!match?.[1]) throw new HttpError(401, "UNAUTHORIZED", "only Basic credentials are accepted");
      const decoded = Buffer.from(match[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      record.account = checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1)).username;
    }
    record.scopes = scopeStrings(url.searchParams.getAll("scope"));
    record.clientId = url.searchParams.get("client_id") ?? undefined;
    record.offline = url.searchParams.get("offline_token") === "true";
    const { jwt, granted, issuedAt } = issue(record.account, toAccess(record.scopes));
    record.granted = formatGranted(granted);
    const body: Record<string, unknown> = {
      token: jwt,
      access_token: jwt,
      expires_in: expiresIn,
      issued_at: issuedAt.toISOString(),
    };
    if (record.offline && record.account !== null) body.refresh_token = newRefreshToken(record.account);
    return body;
  }

  async function handlePost(req: IncomingMessage, record: TokenRequestRecord): Promise<unknown> {
    const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString("utf8"));
    record.grantType = form.get("grant_type") ?? "";
    record.clientId = form.get("client_id") ?? undefined;
    record.scopes = scopeStrings(form.getAll("scope"));
    record.offline = form.get("access_type") === "offline";
    if (form.get("service") !== service) throw new HttpError(400, "invalid_request", `service must be ${service}`);
    if (!record.clientId) throw new HttpError(400, "invalid_request", "client_id is required");
    let refreshToken: string | undefined;
    if (record.grantType === "password") {
      record.account = checkPassword(form.get("username") ?? "", form.get("password") ?? "").username;
      if (record.offline) refreshToken = newRefreshToken(record.account);
    } else if (record.grantType === "refresh_token") {
      const presented = form.get("refresh_token") ?? "";
      const known = refreshTokens.get(presented);
      if (!known || known.service !== service) throw new HttpError(401, "invalid_grant", "unknown refresh token");
      record.account = known.account;
      refreshToken = presented;
    } else {
      throw new HttpError(400, "unsupported_grant_type", `unsupported grant_type ${record.grantType}`);
    }
    const { jwt, granted, issuedAt } = issue(record.account, toAccess(record.scopes));
    record.granted = formatGranted(granted);
    return {
      access_token: jwt,
      scope: record.granted.join(" "),
      expires_in: expiresIn,
      issued_at: issuedAt.toISOString(),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/stats") {
      if (req.method === "GET") return sendJson(res, 200, { count: records.length, requests: records });
      if (req.method === "DELETE" || req.method === "POST") {
        records = [];
        return sendJson(res, 200, { count: 0, requests: [] });
      }
    }
    if (url.pathname !== "/token") return sendJson(res, 404, { errors: [{ code: "NOT_FOUND", message: "not found" }] });
    if (req.method === "POST" && !oauth2) return sendJson(res, 404, { error: "not_found" });
    if (req.method !== "GET" && req.method !== "POST") return sendJson(res, 405, { error: "method not allowed" });

    const record: TokenRequestRecord = {
      time: Date.now(),
      method: req.method,
      account: null,
      grantType: req.method === "GET" ? "get" : "",
      scopes: [],
      granted: [],
      status: 200,
      offline: false,
    };
    records.push(record);
    try {
      const body = req.method === "GET" ? handleGet(req, url, record) : await handlePost(req, record);
      sendJson(res, 200, body);
    } catch (error: unknown) {
      const e = error instanceof HttpError ? error : new HttpError(500, "INTERNAL", String(error));
      record.status = e.status;
      const headers: Record<string, string> =
        e.status === 401 ? { "www-authenticate": 'Basic realm="quayside-token-server"' } : {};
      // Both shapes clients look for: the registry errors list and the OAuth2 error field.
      sendJson(res, e.status, { errors: [{ code: e.code, message: e.message }], error: e.code, details: e.message }, headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });
  const port = await listenLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    realm: `${url}/token`,
    statsUrl: `${url}/stats`,
    service,
    issuer,
    expiresIn,
    oauth2,
    rootCertBundle: options.signing.certFile,
    users: options.users,
    stats: () => ({ count: records.length, requests: records.map((r) => ({ ...r })) }),
    reset: () => {
      records = [];
    },
    close: () => closeServer(server),
  };
}
