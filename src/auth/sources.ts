/**
 * Where a registry's credentials come from, decided in this one place for the library and the
 * CLI alike, in the order Docker, skopeo and podman use:
 *
 * 1. a credential given explicitly (the CLI's -u/--password-stdin) beats every file;
 * 2. an auth file named explicitly (--authfile, --src-authfile/--dest-authfile) is the only file read;
 * 3. otherwise containers' auth.json ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
 *    and ~/.config/containers/auth.json), then Docker's config.json ($DOCKER_CONFIG or ~/.docker):
 *    the first file with an entry (or a helper) for the registry wins.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { DockerConfigCredentials, dockerConfigPath, staticCredentials, type Credential, type CredentialSource } from "./credentials.js";

export interface CredentialOptions {
  /** Explicit credentials, or a source of them: no file is read. */
  credentials?: Credential | CredentialSource | undefined;
  /** Read credentials from this Docker / containers config file only. */
  authFile?: string | undefined;
  /** Read the usual config files when nothing explicit is given. Default true; false means anonymous. */
  configFiles?: boolean | undefined;
  /** Where $DOCKER_CONFIG, $REGISTRY_AUTH_FILE and $XDG_RUNTIME_DIR are read. Default: process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** The containers auth files skopeo and podman read, most specific first. */
export function containersAuthPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env["REGISTRY_AUTH_FILE"];
  if (explicit) return [explicit];
  const runtime = env["XDG_RUNTIME_DIR"];
  return [...(runtime ? [join(runtime, "containers", "auth.json")] : []), join(env["HOME"] ?? homedir(), ".config", "containers", "auth.json")];
}

/** Every file consulted when no credential or auth file is given, in order. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...containersAuthPaths(env), dockerConfigPath(env)];
}

/** The credential source for these options, or undefined for anonymous access. */
export function resolveCredentials(options: CredentialOptions = {}): CredentialSource | undefined {
  const given = options.credentials;
  if (given !== undefined) return "get" in given ? given : staticCredentials(given);
  if (options.authFile !== undefined) return new DockerConfigCredentials(options.authFile);
  if (options.configFiles === false) return undefined;
  return firstOf(defaultAuthFiles(options.env).map((path) => new DockerConfigCredentials(path)));
}

/** Ask each source in turn; the first that knows the registry answers. */
function firstOf(sources: readonly CredentialSource[]): CredentialSource {
  return {
    async get(registry) {
      for (const source of sources) {
        const found = await source.get(registry);
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}
