/** What every command needs: parsed global flags, one RegistryClient per registry, the output formatter. */
import type { Readable } from "node:stream";
import { DockerConfigCredentials, dockerConfigPath, type Credential, type CredentialSource } from "../auth/credentials.js";
import { Registry } from "../image/image.js";
import type { Platform } from "../media/types.js";
import { parsePlatform } from "../ref/platform.js";
import type { RegistryClientOptions } from "../registry/client.js";
import { UsageError } from "./exit-codes.js";
import { Output, type OutputStreams } from "./output.js";

export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  skipTlsVerify?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  platform?: string;
}

export interface CliIo extends OutputStreams {
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

export class CliContext {
  readonly output: Output;
  private readonly registries = new Map<string, Registry>();
  private givenCredential: Promise<Credential | undefined> | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIo,
  ) {
    this.output = new Output(options.json === true, io, options.quiet === true);
  }

  /**
   * One client (and connection pool, and token cache) per registry for the whole command; with
   * `authFile`, one per registry and file, whose credentials come from that Docker config file.
   */
  async registry(host: string, authFile?: string): Promise<Registry> {
    const key = authFile === undefined ? host : `${host}\0${authFile}`;
    let registry = this.registries.get(key);
    if (!registry) {
      registry = new Registry(host, await this.clientOptions(authFile));
      this.registries.set(key, registry);
    }
    return registry;
  }

  platform(): Platform | undefined {
    return this.options.platform === undefined ? undefined : parsePlatform(this.options.platform);
  }

  async close(): Promise<void> {
    await Promise.all([...this.registries.values()].map((r) => r.close()));
  }

  private async clientOptions(authFile: string | undefined): Promise<RegistryClientOptions> {
    const o = this.options;
    const given = authFile === undefined ? await this.credential() : undefined;
    // Without -u, credentials come from Docker's config.json, found through this process's environment.
    const credentials: Credential | CredentialSource = given ?? new DockerConfigCredentials(authFile ?? dockerConfigPath(this.io.env));
    const stderr = this.io.stderr;
    return {
      credentials,
      ...(o.plainHttp ? { plainHttp: true } : {}),
      tls: {
        ...(o.skipTlsVerify ? { insecureSkipVerify: true } : {}),
        ...(o.caFile !== undefined ? { caFile: o.caFile } : {}),
        ...(o.certFile !== undefined ? { certFile: o.certFile } : {}),
        ...(o.keyFile !== undefined ? { keyFile: o.keyFile } : {}),
      },
      ...(o.verbose ? { logger: (line: string) => stderr.write(`quayside: ${line}\n`) } : {}),
    };
  }

  /** The credential given with -u/--password-stdin (stdin is read once), if any. */
  credential(): Promise<Credential | undefined> {
    this.givenCredential ??= (async () => {
      const { username, passwordStdin } = this.options;
      if (username === undefined) {
        if (passwordStdin) throw new UsageError("--password-stdin needs --username");
        return undefined;
      }
      if (!passwordStdin) throw new UsageError("--username needs --password-stdin (passwords are never taken as arguments)");
      const password = (await readAll(this.io.stdin)).replace(/\r?\n$/, "");
      if (password === "") throw new UsageError("--password-stdin: standard input was empty");
      return { kind: "basic", username, password };
    })();
    return this.givenCredential;
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
