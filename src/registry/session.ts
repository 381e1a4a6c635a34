/**
 * The request session of one registry, internal to registry/ (src/index.ts does not export it):
 * the scheme (a TLS probe for loopback), credentials with one answer to a 401, non-success
 * answers as RegistryErrors, URLs kept on the registry's host, and what the registry turned out
 * to support. Every endpoint module sends through it; nothing outside registry/ can.
 */
import { Readable } from "node:stream";
import { Authenticator } from "../auth/authenticator.js";
import type { Credential, CredentialSource } from "../auth/credentials.js";
import { resolveCredentials } from "../auth/sources.js";
import { repositoryScope, type Scope } from "../auth/scope.js";
import { InsecureRequestError, NetworkError, RegistryError } from "../errors.js";
import { hostnameOf, isLoopbackHost, portOf } from "../http/hosts.js";
import { probeTls } from "../http/tls-probe.js";
import { allHeaders, HttpClient, type HttpClientOptions, type HttpResponse, type RequestBody } from "../http/transport.js";
import { normalizeMediaType } from "../media/types.js";
import { registryApiHost } from "../ref/reference.js";
import { MANIFEST_SIZE_LIMIT } from "../util/limits.js";
import { registryError } from "./errors.js";

export interface RegistryClientOptions extends HttpClientOptions {
  /** Talk plain HTTP. Also allows credentials over it: the user asked. */
  plainHttp?: boolean | undefined;
  /** Credentials to use; by default they come from the config files (see resolveCredentials). */
  credentials?: Credential | CredentialSource | undefined;
  /** Read credentials from this Docker / containers config file only. */
  authFile?: string | undefined;
  /** Read containers' auth.json and Docker's config.json when no credentials are given. Default true. */
  dockerConfig?: boolean | undefined;
  /** Where the config files are looked for ($DOCKER_CONFIG, $REGISTRY_AUTH_FILE, ...). Default: process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Exchange basic credentials for tokens with the OAuth2 POST flow. */
  oauth2?: boolean | undefined;
  /** Share an HTTP stack (and its pools) between clients. */
  http?: HttpClient;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

export interface RegistryRequest extends RequestOptions {
  method: string;
  /** A path under the registry root ("/v2/..."), or an absolute URL on the same registry (pagination, upload locations). */
  path: string;
  scopes: readonly Scope[];
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Statuses that count as success; anything else becomes a RegistryError. */
  expect: readonly number[];
  /** Send no credentials and answer no challenge (ping). */
  anonymous?: boolean;
  /**
   * A blob's bytes go up or come down: only the idle timeout applies and the body streams.
   * Anything else is small: answered in full within the deadline, read whole (at most `maxBytes`).
   */
  transfer?: boolean;
  /** The most a small answer may hold (default: a manifest's limit). */
  maxBytes?: number;
  /** Retry even a POST or PATCH (it only opens an upload session, say). */
  retry?: boolean;
}

/** What a registry turned out to support: unknown until tried, then remembered for the session. */
export interface Capabilities {
  /** POST ?digest= with the body completes an upload in one request. */
  monolithicPost?: boolean;
  /** DELETE of a manifest by tag removes just that tag (OCI 1.1). */
  tagDelete?: boolean;
}

export class RegistrySession {
  /** The registry as the user names it: "docker.io", "localhost:5000". */
  readonly registry: string;
  /** The host spoken to: "registry-1.docker.io" for Docker Hub. */
  readonly apiHost: string;
  readonly http: HttpClient;
  readonly capabilities: Capabilities = {};
  private readonly ownsHttp: boolean;
  private readonly auth: Authenticator;
  private scheme: "https" | "http" | undefined;
  /** A loopback registry's scheme, learned once by a TLS probe before its first request. */
  private schemeProbe: Promise<void> | undefined;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.apiHost = registryApiHost(registry);
    this.http = options.http ?? new HttpClient(options);
    this.ownsHttp = options.http === undefined;
    this.scheme = options.plainHttp ? "http" : undefined;
    this.auth = new Authenticator({
      registry,
      http: this.http,
      credentials: credentialSource(options),
      allowInsecureCredentials: options.plainHttp === true,
      ...(options.oauth2 !== undefined ? { oauth2: options.oauth2 } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }

  /** The base URL in use: https unless plain HTTP was asked for or a loopback registry turned out not to speak TLS. */
  get baseUrl(): string {
    return `${this.scheme ?? "https"}://${this.apiHost}`;
  }

  /** The one request path: scheme, auth, errors. */
  async send(req: RegistryRequest): Promise<HttpResponse> {
    if (this.scheme === undefined && isLoopbackHost(this.apiHost)) await this.probeScheme();
    for (;;) {
      const url = this.resolve(req.path);
      try {
        const { response, sent } = await this.sendAuthorized(url, req);
        this.scheme ??= url.protocol === "http:" ? "http" : "https";
        if (!req.expect.includes(response.status)) {
          throw await registryError(response, req.method, {
            registry: this.registry,
            sent: schemeOf(sent),
            hasCredentials: await this.auth.hasCredentials(),
            rateLimitBudgetMs: this.http.retryPolicy.rateLimitBudgetMs,
          });
        }
        return response;
      } catch (err) {
        // Docker's rule for loopback registries: if one does not speak TLS, use plain HTTP.
        // (Concurrent first requests may all fail this way: each retries once on plain HTTP.)
        if (this.scheme !== "https" && url.protocol === "https:" && isLoopbackHost(this.apiHost) && err instanceof NetworkError && err.code === "TLS_NOT_SUPPORTED") {
          this.scheme = "http";
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Docker's rule for loopback registries (TLS if spoken, else plain HTTP), decided by one probe
   * shared by concurrent first requests. An inconclusive probe leaves it to the first request.
   */
  private probeScheme(): Promise<void> {
    this.schemeProbe ??= probeTls(hostnameOf(this.apiHost), portOf(this.apiHost, 443)).then((result) => {
      if (this.scheme === undefined && result !== "unknown") this.scheme = result === "tls" ? "https" : "http";
    });
    return this.schemeProbe;
  }

  /** The response, and the Authorization header it answered (for messages: were credentials refused?). */
  private async sendAuthorized(url: URL, req: RegistryRequest): Promise<{ response: HttpResponse; sent: string | undefined }> {
    const send = async (authorization: string | undefined): Promise<HttpResponse> => {
      const response = await this.http.request({
        method: req.method,
        url,
        headers: authorization ? { ...req.headers, authorization } : { ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
        ...(req.transfer ? {} : { small: { maxBytes: req.maxBytes ?? MANIFEST_SIZE_LIMIT } }),
        ...(req.retry !== undefined ? { retry: req.retry } : {}),
        signal: req.signal,
      });
      // After a redirect, a 401 may be a CDN's: never answered with the registry's credentials.
      if (response.status === 401) await this.auth.assertRegistryChallenge(url, response);
      return response;
    };
    if (req.anonymous) return { response: await send(undefined), sent: undefined };
    const sent = await this.auth.headerFor(url, req.scopes, req.signal);
    const response = await send(sent);
    const replayable = !(req.body instanceof Readable);
    if (response.status !== 401 || !replayable) return { response, sent };
    const next = await this.auth.afterUnauthorized(url, allHeaders(response.headers, "www-authenticate"), req.scopes, sent, req.signal);
    if (next === undefined) return { response, sent };
    await response.dump();
    return { response: await send(next), sent: next };
  }

  /** Absolute URLs (from Link or Location headers) must stay on this registry: credentials never follow them elsewhere. */
  resolve(path: string): URL {
    const base = new URL(this.baseUrl);
    const url = new URL(path, base);
    if (url.host !== base.host) {
      throw new InsecureRequestError(`registry ${this.registry} pointed to another host (${url.host}); not following`);
    }
    if (url.protocol !== base.protocol) url.protocol = base.protocol;
    return url;
  }
}

/** DELETE a manifest or blob; a registry with deletes disabled gets an error that says so. */
export async function sendDelete(session: RegistrySession, path: string, repository: string, options: RequestOptions): Promise<void> {
  try {
    const response = await session.send({ method: "DELETE", path, scopes: [repositoryScope(repository, "delete")], expect: [202, 200, 204], signal: options.signal });
    await response.dump();
  } catch (err) {
    if (err instanceof RegistryError && (err.status === 405 || err.code === "UNSUPPORTED")) {
      throw new RegistryError(err.status, err.request, err.errors, "this registry has deletes disabled (distribution: storage.delete.enabled)");
    }
    throw err;
  }
}

/** "application/json; charset=utf-8" -> "application/json"; undefined when absent or empty. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType === undefined ? "" : normalizeMediaType(contentType);
  return type === "" ? undefined : type;
}

function schemeOf(authorization: string | undefined): "basic" | "bearer" | "other" | undefined {
  if (authorization === undefined) return undefined;
  const scheme = authorization.split(" ", 1)[0]?.toLowerCase();
  return scheme === "basic" || scheme === "bearer" ? scheme : "other";
}

function credentialSource(options: RegistryClientOptions): CredentialSource | undefined {
  return resolveCredentials({ credentials: options.credentials, authFile: options.authFile, configFiles: options.dockerConfig, env: options.env });
}
