/**
 * What the operations share within one job: one RegistryClient (connection pool, token cache,
 * learned capabilities) per registry and credential file, built from one set of options.
 */
import type { Credential, CredentialSource } from "../auth/credentials.js";
import { RateLimiter } from "../http/rate.js";
import { quayRetryPolicy } from "../http/retry.js";
import type { HttpClientOptions } from "../http/transport.js";
import { DEFAULT_QUAY_URL, parseQuayUrl, QuayClient } from "../quay/client.js";
import { RegistryClient } from "../registry/client.js";
import { openLocation, type OpenedLocation, type Role } from "../store/locations.js";

export interface ClientPoolOptions extends HttpClientOptions {
  /** Explicit credentials for every registry (beats every config file). */
  credentials?: Credential | CredentialSource | undefined;
  /** Read credentials from this Docker / containers config file only. */
  authFile?: string | undefined;
  /** Read the usual config files when nothing explicit is given (default true). */
  configFiles?: boolean | undefined;
  /** Where config files are looked for ($DOCKER_CONFIG, $REGISTRY_AUTH_FILE, ...). Default: process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Talk plain HTTP to every registry (credentials may then travel unencrypted). */
  plainHttp?: boolean | undefined;
  /** Exchange basic credentials for tokens with the OAuth2 POST flow. */
  oauth2?: boolean | undefined;
  /** The Quay server when a quay:// URI names none (default https://quay.io). */
  quayUrl?: string | undefined;
  /** A Quay robot or OAuth application token for the REST API (never a registry password). */
  quayToken?: string | undefined;
}

export class ClientPool {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly quayClients = new Map<string, QuayClient>();
  /** `rate` is per host for the whole pool: the REST and /v2/ clients of one Quay host share it. */
  private readonly limiter: RateLimiter | undefined;

  constructor(readonly options: ClientPoolOptions = {}) {
    this.limiter = options.rateLimiter ?? (options.rate !== undefined ? new RateLimiter(options.rate) : undefined);
  }

  /**
   * The client of a registry host; with `authFile`, one whose credentials come from that file
   * only (two accounts of one registry, one per side of a copy).
   */
  client(registry: string, authFile?: string): RegistryClient {
    const key = authFile === undefined ? registry : `${registry}\0${authFile}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      const { credentials, authFile: defaultFile, configFiles, env, quayUrl: _url, quayToken: _token, ...rest } = this.options;
      client = new RegistryClient(registry, {
        ...rest,
        rateLimiter: this.limiter,
        // Quay's /v2/ sends 429 without Retry-After, like its REST API: the same backing off.
        ...(this.isQuayHost(registry) ? { retry: quayRetryPolicy(rest.retry) } : {}),
        ...(authFile !== undefined ? { authFile } : { credentials, authFile: defaultFile }),
        dockerConfig: configFiles,
        env,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * The REST client of a Quay host ("quay.io", "127.0.0.1:8080"); without one, the pool's quayUrl
   * (default quay.io). A host that is quayUrl's keeps its scheme; the token goes to either.
   */
  quay(host?: string): QuayClient {
    const configured = this.options.quayUrl ?? DEFAULT_QUAY_URL;
    const plainHttp = this.options.plainHttp === true;
    const url = host === undefined || parseQuayUrl(configured, plainHttp).host === host ? configured : host;
    let client = this.quayClients.get(url);
    if (client === undefined) {
      const { credentials: _c, authFile: _a, configFiles: _f, env: _e, quayUrl: _u, quayToken, ...http } = this.options;
      client = new QuayClient({ ...http, rateLimiter: this.limiter, url, token: quayToken, plainHttp });
      this.quayClients.set(url, client);
    }
    return client;
  }

  /** A registry that is a Quay: the host of --quay-url (default quay.io), or of a Quay client of this pool. */
  private isQuayHost(registry: string): boolean {
    if ([...this.quayClients.values()].some((client) => client.host === registry)) return true;
    try {
      return parseQuayUrl(this.options.quayUrl ?? DEFAULT_QUAY_URL, this.options.plainHttp === true).host === registry;
    } catch {
      // A --quay-url refused (plain HTTP to a remote host) is for the Quay commands to report.
      return false;
    }
  }

  /** Open a location (registry reference, oci:, docker-archive:) with this pool's clients. */
  open(location: string, role: Role, authFile?: string): Promise<OpenedLocation> {
    return openLocation(location, role, { registryClient: (registry) => this.client(registry, authFile) });
  }

  async close(): Promise<void> {
    const clients: { close(): Promise<void> }[] = [...this.clients.values(), ...this.quayClients.values()];
    this.clients.clear();
    this.quayClients.clear();
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Every operation takes these: a pool to share (else one is made from the options and closed at the end), and a signal. */
export interface OperationOptions extends ClientPoolOptions {
  pool?: ClientPool | undefined;
  signal?: AbortSignal | undefined;
}

/** Run `work` with the caller's pool, or with one of its own that is closed afterwards. */
export async function withPool<T>(options: OperationOptions, work: (pool: ClientPool) => Promise<T>): Promise<T> {
  if (options.pool !== undefined) return work(options.pool);
  const { pool: _unused, signal: _signal, ...poolOptions } = options;
  const pool = new ClientPool(poolOptions);
  try {
    return await work(pool);
  } finally {
    await pool.close();
  }
}

/** Open a location for reading, run `work`, and release the store whatever happens. */
export async function withSource<T>(pool: ClientPool, location: string, work: (opened: OpenedLocation) => Promise<T>, authFile?: string): Promise<T> {
  const opened = await pool.open(location, "source", authFile);
  try {
    return await work(opened);
  } finally {
    await opened.store.close();
  }
}

/** A pool as withPool gives it, and the location opened for reading in it: the shape of every read. */
export function withLocation<T>(options: OperationOptions, location: string, work: (opened: OpenedLocation) => Promise<T>): Promise<T> {
  return withPool(options, (pool) => withSource(pool, location, work));
}

/** An async iteration with the caller's pool, or with one of its own, closed when the iteration ends (also early). */
export async function* iterateWithPool<T>(options: OperationOptions, list: (pool: ClientPool) => AsyncIterable<T>): AsyncGenerator<T> {
  if (options.pool !== undefined) {
    yield* list(options.pool);
    return;
  }
  const { pool: _pool, signal: _signal, ...poolOptions } = options;
  const pool = new ClientPool(poolOptions);
  try {
    yield* list(pool);
  } finally {
    await pool.close();
  }
}
