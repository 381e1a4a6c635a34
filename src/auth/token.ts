/**
 * Bearer tokens (Docker token auth and its OAuth2 variant) and the cache that makes a long
 * listing or a parallel copy cost one token request per scope set.
 */
import { AuthenticationError, bounded, ProtocolError, redactUrl } from "../errors.js";
import type { HttpClient } from "../http/transport.js";
import { JSON_DOCUMENT_LIMIT, SMALL_JSON_LIMIT } from "../util/limits.js";
import type { Credential } from "./credentials.js";
import { formatScope, type Scope } from "./scope.js";

export interface BearerToken {
  token: string;
  /** Epoch milliseconds after which the token must not be used. */
  expiresAt: number;
  refreshToken?: string;
}

export interface TokenRequest {
  realm: string;
  service: string | undefined;
  scopes: readonly Scope[];
  credential: Credential | undefined;
  /** Use the OAuth2 POST flow with grant_type=password for basic credentials. */
  oauth2?: boolean;
  clientId?: string;
  signal?: AbortSignal | undefined;
}

/** Docker's rule: tokens without expires_in live 60 s, and anything shorter is treated as 60 s. */
const MIN_TOKEN_LIFETIME_S = 60;
/** Renew a little early so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 5_000;

export async function fetchToken(http: HttpClient, req: TokenRequest): Promise<BearerToken> {
  const realm = new URL(req.realm);
  const credential = req.credential;
  const usePost = credential?.kind === "identity-token" || (req.oauth2 === true && credential?.kind === "basic");
  const response = usePost ? await postToken(http, realm, req) : await getToken(http, realm, req);
  const where = `token server ${redactUrl(realm.toString())}`;
  if (response.status === 401 || response.status === 403) {
    await response.dump();
    throw new AuthenticationError(`${where} refused the credentials (HTTP ${response.status})`, {
      code: response.status === 401 ? "UNAUTHORIZED" : "DENIED",
    });
  }
  if (response.status !== 200) {
    const text = await response.text(SMALL_JSON_LIMIT).catch(() => "");
    throw new AuthenticationError(`${where} answered HTTP ${response.status}: ${bounded(text)}`);
  }
  return parseTokenResponse(await response.json(), where);
}

function getToken(http: HttpClient, realm: URL, req: TokenRequest) {
  const url = new URL(realm);
  if (req.service !== undefined) url.searchParams.set("service", req.service);
  for (const scope of req.scopes) url.searchParams.append("scope", formatScope(scope));
  const headers: Record<string, string> = {};
  if (req.credential?.kind === "basic") {
    headers["authorization"] = `Basic ${Buffer.from(`${req.credential.username}:${req.credential.password}`).toString("base64")}`;
  }
  return http.request({ method: "GET", url, headers, small: { maxBytes: JSON_DOCUMENT_LIMIT }, signal: req.signal });
}

function postToken(http: HttpClient, realm: URL, req: TokenRequest) {
  const form = new URLSearchParams();
  const credential = req.credential;
  if (credential?.kind === "identity-token") {
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", credential.token);
  } else if (credential?.kind === "basic") {
    form.set("grant_type", "password");
    form.set("username", credential.username);
    form.set("password", credential.password);
  }
  if (req.service !== undefined) form.set("service", req.service);
  if (req.scopes.length > 0) form.set("scope", req.scopes.map(formatScope).join(" "));
  form.set("client_id", req.clientId ?? "quayside");
  form.set("access_type", "offline");
  return http.request({
    method: "POST",
    url: realm,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
    small: { maxBytes: JSON_DOCUMENT_LIMIT },
    signal: req.signal,
  });
}

export function parseTokenResponse(body: unknown, where: string, now = Date.now()): BearerToken {
  if (typeof body !== "object" || body === null) throw new ProtocolError(`${where}: token response is not a JSON object`);
  const fields = body as Record<string, unknown>;
  const token = typeof fields["token"] === "string" && fields["token"] !== "" ? fields["token"] : fields["access_token"];
  if (typeof token !== "string" || token === "") throw new ProtocolError(`${where}: token response has neither "token" nor "access_token"`);
  const expiresIn = typeof fields["expires_in"] === "number" && fields["expires_in"] > MIN_TOKEN_LIFETIME_S ? fields["expires_in"] : MIN_TOKEN_LIFETIME_S;
  const issuedAt = typeof fields["issued_at"] === "string" ? Date.parse(fields["issued_at"]) : Number.NaN;
  // Trust the server's issued_at only if our clocks roughly agree; otherwise count from now.
  const start = Number.isFinite(issuedAt) && Math.abs(issuedAt - now) < 60_000 ? issuedAt : now;
  const refreshToken = typeof fields["refresh_token"] === "string" ? fields["refresh_token"] : undefined;
  return { token, expiresAt: start + expiresIn * 1000, ...(refreshToken ? { refreshToken } : {}) };
}

/**
 * Tokens keyed by realm + service + scope set. Concurrent callers asking for the same key
 * share one in-flight request, so N parallel blob reads cost one token.
 */
export class TokenCache {
  private readonly tokens = new Map<string, BearerToken>();
  private readonly pending = new Map<string, Promise<BearerToken>>();

  constructor(private readonly now: () => number = Date.now) {}

  static key(realm: string, service: string | undefined, scopeKey: string): string {
    return `${realm}\u0000${service ?? ""}\u0000${scopeKey}`;
  }

  peek(key: string): BearerToken | undefined {
    const token = this.tokens.get(key);
    if (token && token.expiresAt - EXPIRY_MARGIN_MS > this.now()) return token;
    if (token) this.tokens.delete(key);
    return undefined;
  }

  async get(key: string, fetcher: () => Promise<BearerToken>): Promise<BearerToken> {
    const cached = this.peek(key);
    if (cached) return cached;
    let inflight = this.pending.get(key);
    if (!inflight) {
      inflight = fetcher().then(
        (token) => {
          this.tokens.set(key, token);
          this.pending.delete(key);
          return token;
        },
        (err: unknown) => {
          this.pending.delete(key);
          throw err;
        },
      );
      this.pending.set(key, inflight);
    }
    return inflight;
  }

  invalidate(key: string): void {
    this.tokens.delete(key);
  }
}
