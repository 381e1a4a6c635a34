/**
 * Where credentials come from: given directly, or from Docker's config.json
 * (`auths` entries, `credHelpers` per registry, a default `credsStore`).
 */
import { readFile as readFileCallback } from "node:fs";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { temporaryPathFor } from "../util/atomic-file.js";
import { AuthenticationError } from "../errors.js";

export type Credential =
  | { kind: "basic"; username: string; password: string }
  /** An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token endpoint. */
  | { kind: "identity-token"; token: string; username?: string }
  /** A ready bearer token or any Authorization header value, sent as is. */
  | { kind: "authorization"; header: string };

export interface CredentialSource {
  /** Credentials for a registry host as the user names it ("docker.io", "localhost:5000"), if any. */
  get(registry: string): Promise<Credential | undefined>;
}

export function staticCredentials(credential: Credential | undefined): CredentialSource {
  return { get: async () => credential };
}

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env["DOCKER_CONFIG"] ?? join(homedir(), ".docker"), "config.json");
}

/** "https://host:5000/v1/" -> "host:5000"; Docker Hub's many spellings -> "docker.io". */
export function normalizeConfigKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

export class DockerConfigCredentials implements CredentialSource {
  private config: Promise<DockerConfig | undefined> | undefined;

  constructor(
    readonly path: string = dockerConfigPath(),
    private readonly helperTimeoutMs = 10_000,
  ) {}

  async get(registry: string): Promise<Credential | undefined> {
    const config = await this.load();
    if (!config) return undefined;
    const wanted = normalizeConfigKey(registry);
    const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => normalizeConfigKey(key) === wanted)?.[1];
    if (helper) return this.fromHelper(helper, registry);
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      if (normalizeConfigKey(key) !== wanted) continue;
      const credential = fromAuthEntry(entry, key, this.path);
      if (credential) return credential;
    }
    if (config.credsStore) return this.fromHelper(config.credsStore, registry);
    return undefined;
  }

  private load(): Promise<DockerConfig | undefined> {
    this.config ??= readText(this.path).then(
      (text) => {
        try {
          return JSON.parse(text) as DockerConfig;
        } catch (err) {
          throw new AuthenticationError(`${this.path} is not valid JSON`, { cause: err, code: "INVALID_DOCKER_CONFIG" });
        }
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw new AuthenticationError(`cannot read ${this.path}: ${err.message}`, { cause: err, code: "INVALID_DOCKER_CONFIG" });
      },
    );
    return this.config;
  }

  private async fromHelper(helper: string, registry: string): Promise<Credential | undefined> {
    const serverUrl = registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
    const output = await runHelper(`docker-credential-${helper}`, serverUrl, this.helperTimeoutMs);
    if (output === undefined) return undefined;
    let parsed: { Username?: unknown; Secret?: unknown };
    try {
      parsed = JSON.parse(output) as { Username?: unknown; Secret?: unknown };
    } catch (err) {
      throw new AuthenticationError(`docker-credential-${helper} printed something that is not JSON`, { cause: err, code: "CREDENTIAL_HELPER" });
    }
    if (typeof parsed.Secret !== "string" || parsed.Secret === "") return undefined;
    const username = typeof parsed.Username === "string" ? parsed.Username : "";
    // Docker's convention: the username "<token>" marks the secret as an identity token.
    if (username === "<token>") return { kind: "identity-token", token: parsed.Secret };
    return { kind: "basic", username, password: parsed.Secret };
  }
}

function fromAuthEntry(entry: NonNullable<DockerConfig["auths"]>[string], key: string, path: string): Credential | undefined {
  if (entry.identitytoken) return { kind: "identity-token", token: entry.identitytoken };
  if (entry.registrytoken) return { kind: "authorization", header: `Bearer ${entry.registrytoken}` };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new AuthenticationError(`${path}: auths["${key}"].auth is not base64 of "user:password"`, { code: "INVALID_DOCKER_CONFIG" });
    return { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { kind: "basic", username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-X get`; a helper that knows no credentials for the host yields undefined. */
async function runHelper(program: string, serverUrl: string, timeoutMs: number): Promise<string | undefined> {
  // Loaded here, not up front: most runs never start a helper, and child_process costs start-up time.
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = execFile(program, ["get"], { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const text = `${stdout}${stderr}`;
      if (/credentials not found/i.test(text)) return resolve(undefined);
      const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "not installed" : text.trim().split("\n")[0] || err.message;
      reject(new AuthenticationError(`credential helper ${program} failed: ${reason}`, { cause: err, code: "CREDENTIAL_HELPER" }));
    });
    // A helper may exit without reading stdin; the EPIPE that follows must not crash the process.
    // Its exit status and output (handled above) tell what happened.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(serverUrl);
  });
}

/** The auths key Docker uses for a registry: Docker Hub keeps its legacy URL. */
export function configKeyFor(registry: string): string {
  return normalizeConfigKey(registry) === "docker.io" ? "https://index.docker.io/v1/" : registry;
}

/**
 * `login`: store base64(user:password) under auths, keeping every other field of the file,
 * written atomically with mode 0600 (it holds a secret).
 */
export async function saveDockerCredential(path: string, registry: string, username: string, password: string): Promise<void> {
  await updateDockerConfig(path, (config) => {
    const auths = config.auths ?? {};
    for (const key of Object.keys(auths)) if (normalizeConfigKey(key) === normalizeConfigKey(registry)) delete auths[key];
    auths[configKeyFor(registry)] = { auth: Buffer.from(`${username}:${password}`).toString("base64") };
    config.auths = auths;
  });
}

/** `logout`: remove the registry's auths entries; resolves false if there were none. */
export async function removeDockerCredential(path: string, registry: string): Promise<boolean> {
  let removed = false;
  await updateDockerConfig(path, (config) => {
    for (const key of Object.keys(config.auths ?? {})) {
      if (normalizeConfigKey(key) !== normalizeConfigKey(registry)) continue;
      delete config.auths?.[key];
      removed = true;
    }
  });
  return removed;
}

async function updateDockerConfig(path: string, change: (config: DockerConfig & Record<string, unknown>) => void): Promise<void> {
  let config: DockerConfig & Record<string, unknown> = {};
  try {
    config = JSON.parse(await readFile(path, "utf8")) as DockerConfig & Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AuthenticationError(`cannot update ${path}: ${(err as Error).message}`, { cause: err, code: "INVALID_DOCKER_CONFIG" });
    }
  }
  change(config);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = temporaryPathFor(path);
  try {
    await writeFile(temporary, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600, flag: "wx" });
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}

/**
 * A config file's text, with fs.readFile: every registry command looks for one or more config
 * files (usually not there), and fs/promises would be loaded for that, with the readline modules
 * it requires: 150 page faults of a one-shot command's start-up.
 */
function readText(path: string): Promise<string> {
  return new Promise((resolve, reject) => readFileCallback(path, "utf8", (err, text) => (err ? reject(err) : resolve(text))));
}
