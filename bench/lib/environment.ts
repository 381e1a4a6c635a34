/**
 * The registries benchmarks run against, built from the test harness (never a copy of it):
 * the real distribution registry (behind the harness's token server, or anonymous), seeded the
 * way the integration tests seed it, with the harness's page-capping front in front of it.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedImages, writeSeedLayout, type CoreSeed, type SeededTags } from "../../test/harness/images.js";
import { onProcessExit } from "../../test/harness/lifecycle.js";
import { startPagingProxy, type PagingProxy } from "../../test/harness/pager.js";
import { startRegistry, type RunningRegistry } from "../../test/harness/registry.js";
import type { TokenServer } from "../../test/harness/token-server.js";
import { nowMs } from "./timing.js";

export interface User {
  username: string;
  password: string;
}

export interface TokenTagsEnvironment {
  registry: RunningRegistry;
  tokenServer: TokenServer;
  /** The page-capping front (Link headers, at most `maxPage` tags a page); clients talk to it. */
  pager: PagingProxy;
  admin: User;
  /** test/tags: TAG_COUNT tags t000.., all naming one manifest, sorted. */
  seeded: SeededTags;
  setupMs: number;
  stop(): Promise<void>;
}

/**
 * A token-auth registry seeded with everything the harness seeds (test/tags has 250 tags),
 * and a paging front with pages of at most `maxPage`. stop() takes it all down; it is
 * also taken down if the process exits without calling it.
 */
export async function startTokenTagsEnvironment(options: { maxPage?: number } = {}): Promise<TokenTagsEnvironment> {
  const started = nowMs();
  const layoutDir = await mkdtemp(join(tmpdir(), "quayside-bench-layout-"));
  const unregisterLayout = onProcessExit(() => rmSync(layoutDir, { recursive: true, force: true }));
  let registry: RunningRegistry | undefined;
  let pager: PagingProxy | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([pager?.close(), registry?.stop()]);
    await rm(layoutDir, { recursive: true, force: true });
    unregisterLayout();
  };
  try {
    // Every step is bounded by the harness: registry readiness polls, skopeo's time limit, fetch timeouts.
    const [layout, running] = await Promise.all([
      writeSeedLayout(layoutDir),
      // Kept as soon as it is up, so stop() finds it even if the layout fails.
      startRegistry({ mode: "token" }).then((r) => (registry = r)),
    ]);
    const tokenServer = running.tokenServer;
    const admin = tokenServer?.users.find((u) => u.role === "admin");
    if (!tokenServer || !admin) throw new Error("token registry without its token server or admin user");
    const creds = { username: admin.username, password: admin.password };
    const seed = await seedImages(running, { layout, creds, full: true });
    pager = await startPagingProxy({ upstream: running.url, maxPage: options.maxPage ?? 100 });
    // Seeding asked for tokens and made requests: start the counters clean.
    tokenServer.reset();
    pager.reset();
    return { registry: running, tokenServer, pager, admin: creds, seeded: seed.tags, setupMs: nowMs() - started, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface AnonymousImagesEnvironment {
  /** An anonymous distribution registry over plain HTTP on 127.0.0.1; clients talk to it directly. */
  registry: RunningRegistry;
  /** The same registry through the harness's front, which counts the requests it forwards. */
  counter: PagingProxy;
  /** test/single:v1, test/docker:v1, test/multi:v1, with the digests skopeo saw. */
  seeded: CoreSeed;
  setupMs: number;
  stop(): Promise<void>;
}

/**
 * An anonymous registry with the integration tests' core images (pushed with skopeo), and a
 * counting front to it. stop() takes it all down; so does this process exiting without it.
 */
export async function startAnonymousImagesEnvironment(): Promise<AnonymousImagesEnvironment> {
  const started = nowMs();
  const layoutDir = await mkdtemp(join(tmpdir(), "quayside-bench-layout-"));
  const unregisterLayout = onProcessExit(() => rmSync(layoutDir, { recursive: true, force: true }));
  let registry: RunningRegistry | undefined;
  let counter: PagingProxy | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([counter?.close(), registry?.stop()]);
    await rm(layoutDir, { recursive: true, force: true });
    unregisterLayout();
  };
  try {
    const [layout, running] = await Promise.all([writeSeedLayout(layoutDir), startRegistry({ mode: "anonymous" }).then((r) => (registry = r))]);
    const seeded = await seedImages(running, { layout, creds: null });
    counter = await startPagingProxy({ upstream: running.url });
    return { registry: running, counter, seeded, setupMs: nowMs() - started, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
