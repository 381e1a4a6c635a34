/** login / logout: credentials checked against the registry, then kept in (or removed from) a config file. */
import { dockerConfigPath, removeDockerCredential, saveDockerCredential } from "../auth/credentials.js";
import { withPool, type OperationOptions } from "./pool.js";

export interface LoginOptions extends OperationOptions {
  /** The file to write: default Docker's config.json ($DOCKER_CONFIG or ~/.docker). */
  authFile?: string | undefined;
}

export interface LoginResult {
  registry: string;
  username: string;
  /** The file the credentials were saved in. */
  config: string;
}

/** Check USERNAME/PASSWORD against the registry (GET /v2/ with them), then save them. Nothing is saved if refused. */
export function login(registry: string, username: string, password: string, options: LoginOptions = {}): Promise<LoginResult> {
  const config = options.authFile ?? dockerConfigPath(options.env);
  return withPool({ ...options, pool: undefined, authFile: undefined, credentials: { kind: "basic", username, password } }, async (pool) => {
    await pool.client(registry).checkAuth(options);
    await saveDockerCredential(config, registry, username, password);
    return { registry, username, config };
  });
}

export interface LogoutResult {
  registry: string;
  /** False when the file held no credentials for the registry. */
  removed: boolean;
  config: string;
}

/** Remove a registry's credentials from the config file. */
export async function logout(registry: string, options: Pick<LoginOptions, "authFile" | "env"> = {}): Promise<LogoutResult> {
  const config = options.authFile ?? dockerConfigPath(options.env);
  return { registry, removed: await removeDockerCredential(config, registry), config };
}
