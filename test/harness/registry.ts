import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHtpasswd, type User } from "./htpasswd.js";
import { onProcessExit } from "./lifecycle.js";
import { freePort } from "./ports.js";
import { createCa, createServerCert, createSigningCert, type CertificateAuthority } from "./tls.js";
import { startTokenServer, type TokenServer, type TokenUser } from "./token-server.js";

export type RegistryMode = "anonymous" | "basic" | "token";

export interface StartRegistryOptions {
  mode: RegistryMode;
  /** storage.delete.enabled (default true). */
  deleteEnabled?: boolean;
  /** catalog.maxentries: the most repositories one /v2/_catalog page returns (registry default 1000). */
  catalogMaxEntries?: number;
  /** Listen on this port of 127.0.0.1 (default: a free one). */
  port?: number;
  /** Share storage with another instance; not removed by stop(). Default: a fresh temp dir. */
  storageDir?: string;
  /** basic: the one htpasswd user (default admin + a random password). */
  user?: User;
  /** basic: reuse a CA (default: a new one). */
  ca?: CertificateAuthority;
  /** token: trust this token server (not closed by stop()); default: start one for this registry. */
  tokenServer?: TokenServer;
  /** token: users of the token server started for this registry (default admin + reader, random passwords). */
  tokenUsers?: readonly TokenUser[];
  /** token: options for the token server started for this registry. */
  tokenExpiresIn?: number;
  tokenOAuth2?: boolean;
  /**
   * Accept Docker schema 1 pushes (compatibility.schema1.enabled; distribution 2.8 refuses them
   * otherwise with 500 "manifest schema v1 unsupported"). The registry verifies the pushed JWS
   * signatures, stores only the signed payload, and signs each schema 1 manifest it serves with
   * its own key: this one (an "EC PRIVATE KEY" or "RSA PRIVATE KEY" PEM; PKCS#8 is refused) or,
   * when none is given, one it makes at start.
   */
  schema1?: { signingKeyFile?: string };
}

export interface RunningRegistry {
  mode: RegistryMode;
  /** "127.0.0.1:PORT", the registry part of image references. */
  host: string;
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
  url: string;
  storageDir: string;
  deleteEnabled: boolean;
  catalogMaxEntries: number;
  /** The registry's stderr (logrus, level info, no access log). */
  logFile: string;
  /** basic: the CA that signed the server certificate, and a cert dir holding it as ca.crt. */
  caFile?: string;
  certDir?: string;
  username?: string;
  password?: string;
  /** token: the token server it trusts (with its users). */
  tokenServer?: TokenServer;
  stop(): Promise<void>;
}

const READY_ATTEMPTS = 100;
const READY_INTERVAL_MS = 50;
const START_ATTEMPTS = 3;

/**
 * Runs the registry under a tiny shell watchdog in its own process group: stop() kills the
 * group, and should this process die without cleaning up (SIGKILL), the watchdog notices
 * within a second and takes the registry down with it. The watch is bounded (24 h).
 */
const WATCHDOG = [
  'parent=$1; shift; "$@" & child=$!',
  // `sleep & wait` so a signal interrupts the wait at once instead of after the sleep.
  "trap 'kill $child 2>/dev/null; wait $child; exit 143' TERM INT HUP",
  'i=0; while [ $i -lt 86400 ] && kill -0 "$parent" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1 & wait $!; i=$((i+1)); done',
  "kill $child 2>/dev/null; wait $child",
].join("\n");

export const randomPassword = (): string => randomBytes(12).toString("base64url");

export async function startRegistry(options: StartRegistryOptions): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `quayside-registry-${options.mode}-`));
  const ownsStorage = options.storageDir === undefined;
  const storageDir = options.storageDir ?? join(dir, "storage");
  const deleteEnabled = options.deleteEnabled ?? true;
  const catalogMaxEntries = options.catalogMaxEntries ?? 1000;
  let tokenServer: TokenServer | undefined;
  const ownsTokenServer = options.mode === "token" && options.tokenServer === undefined;
  const cleanupDirs = (): void => {
    rmSync(dir, { recursive: true, force: true });
    if (ownsStorage) rmSync(storageDir, { recursive: true, force: true });
  };
  const unregisterDirs = onProcessExit(cleanupDirs);

  try {
    const result: Omit<RunningRegistry, "host" | "url" | "stop"> = {
      mode: options.mode,
      storageDir,
      deleteEnabled,
      catalogMaxEntries,
      logFile: join(dir, "registry.log"),
    };
    let auth: Record<string, unknown> | undefined;
    let tls: { certificate: string; key: string } | undefined;

    if (options.mode === "basic") {
      const user = options.user ?? { username: "admin", password: randomPassword() };
      const ca = options.ca ?? (await createCa(join(dir, "ca")));
      const cert = await createServerCert(ca, join(dir, "tls"));
      const htpasswd = join(dir, "htpasswd");
      await writeHtpasswd(htpasswd, [user]);
      auth = { htpasswd: { realm: "quayside-basic", path: htpasswd } };
      tls = { certificate: cert.certFile, key: cert.keyFile };
      result.caFile = cert.caFile;
      result.certDir = cert.certDir;
      result.username = user.username;
      result.password = user.password;
    } else if (options.mode === "token") {
      tokenServer =
        options.tokenServer ??
        (await startTokenServer({
          signing: await createSigningCert(join(dir, "token")),
          users: options.tokenUsers ?? [
            { username: "admin", password: randomPassword(), role: "admin" },
            { username: "reader", password: randomPassword(), role: "reader" },
          ],
          expiresIn: options.tokenExpiresIn,
          oauth2: options.tokenOAuth2,
        }));
      auth = {
        token: {
          realm: tokenServer.realm,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          rootcertbundle: tokenServer.rootCertBundle,
        },
      };
      result.tokenServer = tokenServer;
    }

    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      const config = {
        version: "0.1",
        log: { level: "info", formatter: "text", accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: storageDir },
          delete: { enabled: deleteEnabled },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: { addr: `127.0.0.1:${port}`, secret: randomPassword(), ...(tls ? { tls } : {}) },
        ...(auth ? { auth } : {}),
        catalog: { maxentries: catalogMaxEntries },
        ...(options.schema1 ? { compatibility: { schema1: { enabled: true, ...(options.schema1.signingKeyFile ? { signingkeyfile: options.schema1.signingKeyFile } : {}) } } } : {}),
      };
      // JSON is YAML, and docker-registry reads YAML.
      const configFile = join(dir, "config.yml");
      await writeFile(configFile, JSON.stringify(config, null, 2));
      const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
      const child = await spawnRegistry(configFile, result.logFile);
      const killGroup = (signal: NodeJS.Signals): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      const unregisterKill = onProcessExit(() => killGroup("SIGKILL"));
      const ready = await waitReady(url, child, result.caFile);
      if (ready) {
        let stopped: Promise<void> | undefined;
        const stop = (): Promise<void> =>
          (stopped ??= (async () => {
            await terminate(child, killGroup);
            unregisterKill();
            if (ownsTokenServer) await tokenServer?.close();
            await rm(dir, { recursive: true, force: true });
            if (ownsStorage) await rm(storageDir, { recursive: true, force: true });
            unregisterDirs();
          })());
        return { ...result, host: `127.0.0.1:${port}`, url, stop };
      }
      await terminate(child, killGroup);
      unregisterKill();
      const log = await readFile(result.logFile, "utf8").catch(() => "");
      if (options.port === undefined && attempt < START_ATTEMPTS && log.includes("address already in use")) continue;
      throw new Error(`docker-registry (${options.mode}) did not become ready on ${url}; its log:\n${log.slice(-4000)}`);
    }
  } catch (error) {
    if (ownsTokenServer) await tokenServer?.close();
    cleanupDirs();
    unregisterDirs();
    throw error;
  }
}

async function spawnRegistry(configFile: string, logFile: string): Promise<ChildProcess> {
  const log = await open(logFile, "w");
  // docker-registry reads REGISTRY_* variables as config overrides: never pass any through.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("REGISTRY_")));
  try {
    const child = spawn(
      "sh",
      ["-c", WATCHDOG, "watchdog", String(process.pid), "docker-registry", "serve", configFile],
      { detached: true, stdio: ["ignore", log.fd, log.fd], env },
    );
    child.unref();
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    return child;
  } finally {
    await log.close();
  }
}

async function terminate(child: ChildProcess, killGroup: (signal: NodeJS.Signals) => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup("SIGKILL");
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup("SIGTERM");
  const timer = setTimeout(() => killGroup("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
  // The registry itself may still be shutting down: make sure no member of the group survives.
  killGroup("SIGKILL");
}

/** Polls GET /v2/ until the registry answers at all (200, or 401 with auth); bounded. */
async function waitReady(url: string, child: ChildProcess, caFile?: string): Promise<boolean> {
  const ca = caFile ? await readFile(caFile) : undefined;
  for (let i = 0; i < READY_ATTEMPTS; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const status = await probe(`${url}/v2/`, ca);
    if (status === 200 || status === 401) return true;
    await new Promise((r) => setTimeout(r, READY_INTERVAL_MS));
  }
  return false;
}

/** One GET with a short timeout: the status, or null when nothing answered. */
export function probe(url: string, ca?: Buffer, timeoutMs = 1000): Promise<number | null> {
  return new Promise((resolve) => {
    const request = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = request(url, { method: "GET", ca, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}
