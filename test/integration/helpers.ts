/** Shared bits for integration tests: clients for each registry mode and an in-process CLI runner. */
import { PassThrough, Readable } from "node:stream";
import type { Credential } from "../../src/auth/credentials.js";
import { main } from "../../src/cli/main.js";
import { RegistryClient, type RegistryClientOptions } from "../../src/registry/client.js";
import type { TestEnvironment, UserInfo } from "../harness/environment.js";

export type Mode = "anonymous" | "basic" | "token";

export function basicCredential(user: UserInfo): Credential {
  return { kind: "basic", username: user.username, password: user.password };
}

/** A client for one of the shared registries, as a user would configure it (never skip-verify). */
export function clientFor(env: TestEnvironment, mode: Mode, options: RegistryClientOptions & { user?: UserInfo | null } = {}): RegistryClient {
  const { user, ...rest } = options;
  const base: RegistryClientOptions = { dockerConfig: false, retry: { retries: 1, baseDelayMs: 10 }, ...rest };
  switch (mode) {
    case "anonymous":
      return new RegistryClient(env.anonymous.host, base);
    case "basic": {
      const credential = user === null ? undefined : basicCredential(user ?? env.basic);
      return new RegistryClient(env.basic.host, { tls: { caFile: env.basic.caFile }, ...(credential ? { credentials: credential } : {}), ...base });
    }
    case "token": {
      const credential = user === null ? undefined : basicCredential(user ?? env.token.users.admin);
      return new RegistryClient(env.token.host, { ...(credential ? { credentials: credential } : {}), ...base });
    }
  }
}

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** stdout as text */
  out: string;
}

/** Runs the CLI in this process with captured streams; its environment has no Docker config unless given. */
export async function runCli(args: readonly string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => outChunks.push(c));
  stderr.on("data", (c: Buffer) => errChunks.push(c));
  const code = await main(args, {
    stdin: Readable.from(options.stdin !== undefined ? [Buffer.from(options.stdin)] : []),
    stdout,
    stderr,
    env: options.env ?? { DOCKER_CONFIG: "/nonexistent/quayside-test", REGISTRY_AUTH_FILE: "/nonexistent/quayside-test/auth.json" },
  });
  const out = Buffer.concat(outChunks);
  return { code, stdout: out, stderr: Buffer.concat(errChunks).toString("utf8"), out: out.toString("utf8") };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
