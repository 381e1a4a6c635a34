/**
 * The npm registry clients quayside is compared with. They live in bench/peers (their own
 * package.json, never quayside's dependencies), are installed on first use, loaded with
 * createRequire (they are CommonJS), and seen through the small typed surfaces below:
 * only what the benchmarks call, checked at load time, so no `any` leaks out.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { execOk } from "./exec.js";
import { PEERS_DIR } from "./paths.js";

export const SNYK = "@snyk/docker-registry-v2-client";
export const DRC = "docker-registry-client";
const PEERS = [SNYK, DRC] as const;
export type PeerName = (typeof PEERS)[number];

const INSTALL_TIMEOUT_MS = 300_000;

/** Options of @snyk/docker-registry-v2-client (its ClientOptions, the part used here). */
export interface SnykOptions {
  /** "http:" to talk plain HTTP; the default is https. */
  protocol?: string;
  /** needle's overall timeout, ms. */
  timeout?: number;
}

/** @snyk/docker-registry-v2-client 4.x: stateless functions, credentials on every call. */
export interface SnykModule {
  /** Follows Link headers; asks for `n=pageSize` (default 1000). */
  getTags(
    registryBase: string,
    repo: string,
    username?: string,
    password?: string,
    pageSize?: number,
    maxPages?: number,
    options?: SnykOptions,
  ): Promise<string[]>;
  /** "last" marker pagination: asks for `n=pageSize` (default 1000) and stops at a page shorter than that. */
  getTagsPaginated(registryBase: string, repo: string, username?: string, password?: string, pageSize?: number, options?: SnykOptions): Promise<string[]>;
}

export interface DrcClientOptions {
  /** "HOST/REPO"; a 127.0.0.1 or localhost host is spoken to over plain HTTP. */
  name: string;
  username?: string;
  password?: string;
}

/** docker-registry-client 3.x: one client per repository, callback API. */
export interface DrcClient {
  listTags(callback: (error: Error | null | undefined, body: unknown) => void): void;
  close(): void;
}

export interface DrcModule {
  createClientV2(options: DrcClientOptions): DrcClient;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

function installed(name: PeerName): boolean {
  return existsSync(join(PEERS_DIR, "node_modules", ...name.split("/"), "package.json"));
}

/** Installs bench/peers (npm install --prefix bench/peers) unless every peer is there already. */
export async function ensurePeers(log: (line: string) => void): Promise<void> {
  if (PEERS.every(installed)) return;
  log(`installing the npm peers into ${PEERS_DIR} ...`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  await execOk(npm, ["install", "--prefix", PEERS_DIR, "--no-audit", "--no-fund"], { timeoutMs: INSTALL_TIMEOUT_MS });
  const missing = PEERS.filter((name) => !installed(name));
  if (missing.length > 0) throw new Error(`npm install in ${PEERS_DIR} did not install ${missing.join(", ")}`);
}

/** The installed version of each peer, from its package.json. */
export function peerVersions(): Record<PeerName, string> {
  const version = (name: PeerName): string => {
    const manifest = JSON.parse(readFileSync(join(PEERS_DIR, "node_modules", ...name.split("/"), "package.json"), "utf8")) as unknown;
    return isRecord(manifest) && typeof manifest.version === "string" ? manifest.version : "unknown";
  };
  return { [SNYK]: version(SNYK), [DRC]: version(DRC) };
}

const requirePeer = createRequire(join(PEERS_DIR, "package.json"));

export function loadSnyk(): SnykModule {
  const loaded: unknown = requirePeer(SNYK);
  if (!isRecord(loaded) || typeof loaded.getTags !== "function" || typeof loaded.getTagsPaginated !== "function") {
    throw new Error(`${SNYK}: no getTags/getTagsPaginated functions`);
  }
  return loaded as unknown as SnykModule;
}

export function loadDrc(): DrcModule {
  const loaded: unknown = requirePeer(DRC);
  if (!isRecord(loaded) || typeof loaded.createClientV2 !== "function") throw new Error(`${DRC}: no createClientV2 function`);
  return loaded as unknown as DrcModule;
}
