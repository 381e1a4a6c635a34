import { mkdtemp, readFile, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedImages, writeSeedLayout, type CoreSeed, type FullSeed, type SeedLayout } from "./images.js";
import { onProcessExit } from "./lifecycle.js";
import { startPagingProxy, type PagerStats, type PagingProxy } from "./pager.js";
import { randomPassword, startRegistry, type RunningRegistry } from "./registry.js";
import type { TokenServerStats } from "./token-server.js";

/** The environment every integration test shares: plain JSON, so it crosses processes. */

export interface UserInfo {
  username: string;
  password: string;
}

/** The JSON-safe part of a running registry (no stop(), no token server object). */
export type RegistryInfo = Pick<RunningRegistry, "mode" | "host" | "url" | "storageDir" | "deleteEnabled" | "catalogMaxEntries">;

export interface TokenServerInfo {
  url: string;
  /** GET (Docker token) and, when oauth2, POST (OAuth2 password / refresh_token grants). */
  realm: string;
  service: string;
  issuer: string;
  /** GET: {count, requests}; DELETE or POST: reset. */
  statsUrl: string;
  expiresIn: number;
  oauth2: boolean;
}

export interface PagerInfo {
  url: string;
  host: string;
  upstream: string;
  maxPage: number;
  /** GET: {count, tagPages, requests}; DELETE or POST: reset. */
  statsUrl: string;
}

export interface TestEnvironment {
  /** Plain HTTP, no auth, catalog.maxentries 10: everything seeded. */
  anonymous: RegistryInfo & { seeded: FullSeed };
  /** TLS (our CA) + htpasswd basic auth: test/single, test/multi, test/docker. */
  basic: RegistryInfo & UserInfo & { caFile: string; certDir: string; seeded: CoreSeed };
  /**
   * Plain HTTP + token auth: everything seeded. admin may pull/push/delete anywhere,
   * reader may only pull, anonymous may pull public/*; admin and reader may list the catalog.
   */
  token: RegistryInfo & {
    seeded: FullSeed;
    tokenServer: TokenServerInfo;
    users: { admin: UserInfo; reader: UserInfo };
  };
  /** Tag-paginating proxies (maxPage 100) in front of the anonymous and token registries. */
  pagers: { anonymous: PagerInfo; token: PagerInfo };
  /** The OCI layout the images were pushed from (read only: other tests share it). */
  ociLayout: SeedLayout;
  /** How long starting and seeding took. */
  setupMs: number;
}

export interface StartedEnvironment {
  env: TestEnvironment;
  stop(): Promise<void>;
}

const registryInfo = (r: RunningRegistry): RegistryInfo => ({
  mode: r.mode,
  host: r.host,
  url: r.url,
  storageDir: r.storageDir,
  deleteEnabled: r.deleteEnabled,
  catalogMaxEntries: r.catalogMaxEntries,
});

const pagerInfo = (p: PagingProxy): PagerInfo => ({
  url: p.url,
  host: p.host,
  upstream: p.upstream,
  maxPage: p.maxPage,
  statsUrl: p.statsUrl,
});

/** Starts and seeds everything in this process; stop() tears it all down. */
export async function startTestEnvironment(): Promise<StartedEnvironment> {
  const started = Date.now();
  const layoutDir = await mkdtemp(join(tmpdir(), "quayside-layout-"));
  const unregisterLayout = onProcessExit(() => rmSync(layoutDir, { recursive: true, force: true }));
  const registries: RunningRegistry[] = [];
  const proxies: PagingProxy[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled([...proxies.map((p) => p.close()), ...registries.map((r) => r.stop())]);
    await rm(layoutDir, { recursive: true, force: true });
    unregisterLayout();
  };
  try {
    const track = (r: RunningRegistry): RunningRegistry => (registries.push(r), r);
    const [layout, anonymous, basic, token] = await Promise.all([
      writeSeedLayout(layoutDir),
      startRegistry({ mode: "anonymous", catalogMaxEntries: 10 }).then(track),
      startRegistry({ mode: "basic", user: { username: "admin", password: randomPassword() } }).then(track),
      startRegistry({ mode: "token" }).then(track),
    ]);
    const tokenServer = token.tokenServer;
    const admin = tokenServer?.users.find((u) => u.role === "admin");
    const reader = tokenServer?.users.find((u) => u.role === "reader");
    if (!tokenServer || !admin || !reader) throw new Error("token registry without its token server users");
    if (!basic.username || !basic.password || !basic.caFile || !basic.certDir) throw new Error("basic registry without TLS or user");
    const basicUser = { username: basic.username, password: basic.password };

    const [anonymousSeed, basicSeed, tokenSeed, anonymousPager, tokenPager] = await Promise.all([
      seedImages(anonymous, { layout, creds: null, full: true }),
      seedImages(basic, { layout, creds: basicUser }),
      seedImages(token, { layout, creds: admin, full: true }),
      startPagingProxy({ upstream: anonymous.url }).then((p) => (proxies.push(p), p)),
      startPagingProxy({ upstream: token.url }).then((p) => (proxies.push(p), p)),
    ]);
    // Seeding asked for tokens: start the counters clean.
    tokenServer.reset();

    const env: TestEnvironment = {
      anonymous: { ...registryInfo(anonymous), seeded: anonymousSeed },
      basic: { ...registryInfo(basic), ...basicUser, caFile: basic.caFile, certDir: basic.certDir, seeded: basicSeed },
      token: {
        ...registryInfo(token),
        seeded: tokenSeed,
        tokenServer: {
          url: tokenServer.url,
          realm: tokenServer.realm,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          statsUrl: tokenServer.statsUrl,
          expiresIn: tokenServer.expiresIn,
          oauth2: tokenServer.oauth2,
        },
        users: {
          admin: { username: admin.username, password: admin.password },
          reader: { username: reader.username, password: reader.password },
        },
      },
      pagers: { anonymous: pagerInfo(anonymousPager), token: pagerInfo(tokenPager) },
      ociLayout: layout,
      setupMs: Date.now() - started,
    };
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

let shared: Promise<TestEnvironment> | undefined;

/**
 * The environment for this test process: the one run-tests.mjs started (its JSON named by
 * QUAYSIDE_TEST_ENV), or else one started here, once, and torn down when the process exits.
 */
export function getTestEnvironment(): Promise<TestEnvironment> {
  shared ??= (async () => {
    const file = process.env.QUAYSIDE_TEST_ENV;
    if (file) return JSON.parse(await readFile(file, "utf8")) as TestEnvironment;
    const { env } = await startTestEnvironment();
    // Registries, temp dirs and the layout already clean up at exit; servers are unref'd.
    return env;
  })();
  return shared;
}

async function getJson<T>(url: string, method = "GET"): Promise<T> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** Requests the token server saw (over HTTP, so it works from any process). */
export function tokenServerStats(env: TestEnvironment): Promise<TokenServerStats> {
  return getJson<TokenServerStats>(env.token.tokenServer.statsUrl);
}

export async function resetTokenServerStats(env: TestEnvironment): Promise<void> {
  await getJson<TokenServerStats>(env.token.tokenServer.statsUrl, "DELETE");
}

export function pagerStats(pager: PagerInfo): Promise<PagerStats> {
  return getJson<PagerStats>(pager.statsUrl);
}

export async function resetPagerStats(pager: PagerInfo): Promise<void> {
  await getJson<PagerStats>(pager.statsUrl, "DELETE");
}
