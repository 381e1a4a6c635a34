/**
 * Per-registry authentication state: the challenge the registry answered with, the user's
 * credential, and the token cache. The registry client asks it for an Authorization header
 * before a request and again after a 401.
 */
import { AuthenticationError, InsecureRequestError, ProtocolError, quoted } from "../errors.js";
import { isLoopbackHost } from "../http/hosts.js";
import type { HttpClient, HttpResponse } from "../http/transport.js";
import { parseChallenges, pickChallenge, type Challenge } from "./challenge.js";
import type { Credential, CredentialSource } from "./credentials.js";
import { mergeScopes, parseScopes, scopeKey, type Scope } from "./scope.js";
import { fetchToken, TokenCache } from "./token.js";

export interface AuthenticatorOptions {
  /** The registry as the user names it, used to look up credentials ("docker.io", "localhost:5000"). */
  registry: string;
  http: HttpClient;
  credentials?: CredentialSource | undefined;
  /** The user explicitly asked for plain HTTP: credentials may then travel unencrypted. */
  allowInsecureCredentials?: boolean;
  /** Exchange basic credentials with the OAuth2 POST flow instead of GET. */
  oauth2?: boolean;
}

export class Authenticator {
  private challenge: Challenge | undefined;
  private credential: Promise<Credential | undefined> | undefined;
  private readonly tokens = new TokenCache();

  constructor(private readonly options: AuthenticatorOptions) {}

  /** The header to send, from what is already known; undefined before any challenge (unless a fixed header was given). */
  async headerFor(url: URL, scopes: readonly Scope[], signal?: AbortSignal): Promise<string | undefined> {
    const credential = await this.resolveCredential();
    if (credential?.kind === "authorization") {
      this.assertMaySend(url);
      return credential.header;
    }
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      if (credential?.kind !== "basic") return undefined;
      this.assertMaySend(url);
      return basicHeader(credential);
    }
    return this.bearerHeader(challenge, url, scopes, credential, signal);
  }

  /**
   * A 401 is answered only if the registry sent it. After a redirect to another origin (a blob
   * CDN) it did not: that challenge gets no credentials, no token fetched with them, and does not
   * replace the registry's. Throws InsecureRequestError then (the response discarded).
   */
  async assertRegistryChallenge(url: URL, response: HttpResponse): Promise<void> {
    const answeredBy = new URL(response.url);
    if (answeredBy.origin === url.origin) return;
    await response.dump();
    throw new InsecureRequestError(
      `${describeTarget(url)} at ${this.options.registry} was redirected to ${answeredBy.origin}, which asked for authentication; quayside does not send registry credentials there`,
    );
  }

  /**
   * Called with a 401's WWW-Authenticate values (a 401 assertRegistryChallenge accepted). Returns a
   * header worth one more try, or undefined when there is nothing new to offer (so the 401 stands).
   */
  async afterUnauthorized(url: URL, wwwAuthenticate: readonly string[], scopes: readonly Scope[], sentHeader: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const credential = await this.resolveCredential();
    if (credential?.kind === "authorization") return undefined;
    const challenge = pickChallenge(parseChallenges(wwwAuthenticate));
    if (!challenge) return undefined;
    this.challenge = challenge;
    if (challenge.scheme === "basic") {
      if (credential?.kind !== "basic" || sentHeader?.startsWith("Basic ")) return undefined;
      this.assertMaySend(url);
      return basicHeader(credential);
    }
    const wanted = mergeScopes(scopes, parseScopes(challenge.params["scope"]));
    // A bearer we sent was refused: it expired early or lacks a scope; fetch afresh once.
    if (sentHeader?.startsWith("Bearer ")) this.tokens.invalidate(this.cacheKey(challenge, scopes));
    const header = await this.bearerHeader(challenge, url, wanted, credential, signal, scopes);
    return header === sentHeader ? undefined : header;
  }

  /** Are there credentials for this registry (given, or found in a config file)? */
  async hasCredentials(): Promise<boolean> {
    return (await this.resolveCredential().catch(() => undefined)) !== undefined;
  }

  /** Drop what was learned (after logout or a credential change). */
  reset(): void {
    this.challenge = undefined;
    this.credential = undefined;
  }

  private async bearerHeader(
    challenge: Challenge,
    url: URL,
    scopes: readonly Scope[],
    credential: Credential | undefined,
    signal: AbortSignal | undefined,
    cacheScopes: readonly Scope[] = scopes,
  ): Promise<string> {
    const realm = challenge.params["realm"];
    if (realm === undefined) throw new ProtocolError(`registry ${this.options.registry} sent a bearer challenge without a realm`);
    if (!URL.canParse(realm)) throw new ProtocolError(`registry ${this.options.registry} sent a bearer challenge whose realm is not a URL: ${quoted(realm)}`);
    if (credential) {
      this.assertMaySend(url);
      this.assertMaySend(new URL(realm));
    }
    const token = await this.tokens.get(this.cacheKey(challenge, cacheScopes), () =>
      fetchToken(this.options.http, {
        realm,
        service: challenge.params["service"],
        scopes: mergeScopes(scopes),
        credential,
        oauth2: this.options.oauth2 ?? false,
        signal,
      }).catch((err: unknown) => {
        // The token server said no to the user's credentials: they are wrong, say so and what to do.
        if (credential !== undefined && err instanceof AuthenticationError && err.code === "UNAUTHORIZED") {
          throw new AuthenticationError(credentialsRefused(this.options.registry, new URL(realm).host), { cause: err, code: "UNAUTHORIZED" });
        }
        throw err;
      }),
    );
    return `Bearer ${token.token}`;
  }

  private cacheKey(challenge: Challenge, scopes: readonly Scope[]): string {
    return TokenCache.key(challenge.params["realm"] ?? "", challenge.params["service"], scopeKey(scopes));
  }

  private resolveCredential(): Promise<Credential | undefined> {
    this.credential ??= this.options.credentials?.get(this.options.registry) ?? Promise.resolve(undefined);
    return this.credential;
  }

  /** Credentials never cross plain HTTP to a non-loopback host unless the user asked for plain HTTP. */
  private assertMaySend(url: URL): void {
    if (url.protocol === "https:" || isLoopbackHost(url.host) || this.options.allowInsecureCredentials) return;
    throw new InsecureRequestError(
      `refusing to send credentials for ${this.options.registry} over plain HTTP to ${url.host}; use HTTPS, or ask for plain HTTP explicitly`,
    );
  }
}

/** "blob sha256:... of team/app" for a registry API URL, for messages; the path otherwise. */
function describeTarget(url: URL): string {
  const match = /^\/v2\/(.+)\/(blobs|manifests)\/([^/]+)$/.exec(url.pathname);
  if (!match) return url.pathname;
  return `${match[2] === "blobs" ? "blob" : "manifest"} ${decodeURIComponent(match[3] ?? "")} of ${match[1] ?? ""}`;
}

/** How a person gives other credentials for a registry. */
export function otherCredentialsHint(registry: string): string {
  return `log in with \`quayside login ${registry}\`, or pass -u NAME --password-stdin`;
}

/** The message for credentials a registry (or its token server) did not accept. */
export function credentialsRefused(registry: string, tokenServer?: string): string {
  const who = tokenServer === undefined ? registry : `the token server of ${registry} (${tokenServer})`;
  return `${who} refused the credentials given for it; ${otherCredentialsHint(registry)}`;
}

function basicHeader(credential: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
}
