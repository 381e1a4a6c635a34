/** What every command needs: parsed global flags, the client pool they imply, the output formatter. */
import type { Readable } from "node:stream";
import type { ClientPool, ClientPoolOptions, Credential } from "../index.js";
import { loadLibrary } from "./library.js";
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
  authfile?: string;
}

export interface CliIo extends OutputStreams {
  stdin: Readable;
  env: NodeJS.ProcessEnv;
}

export class CliContext {
  readonly output: Output;
  private poolPromise: Promise<ClientPool> | undefined;
  private givenCredential: Promise<Credential | undefined> | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIo,
  ) {
    this.output = new Output(options.json === true, io, options.quiet === true);
  }

  /** One pool for the whole command: a client (connections, tokens) per registry. */
  pool(): Promise<ClientPool> {
    this.poolPromise ??= Promise.all([loadLibrary(), this.credential()]).then(([{ ClientPool }, credentials]) => new ClientPool(this.poolOptions(credentials)));
    return this.poolPromise;
  }

  async close(): Promise<void> {
    if (this.poolPromise) await (await this.poolPromise.catch(() => undefined))?.close();
  }

  private poolOptions(credentials: Credential | undefined): ClientPoolOptions {
    const o = this.options;
    const stderr = this.io.stderr;
    return {
      ...(credentials !== undefined ? { credentials } : {}),
      ...(o.authfile !== undefined ? { authFile: o.authfile } : {}),
      env: this.io.env,
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
      const { UsageError } = await loadLibrary();
      const { username, passwordStdin } = this.options;
      if (username === undefined) {
        if (passwordStdin) throw new UsageError("--password-stdin needs --username");
        return undefined;
      }
      if (!passwordStdin) throw new UsageError("--username needs --password-stdin (passwords are never taken as arguments)");
      const password = (await readText(this.io.stdin)).replace(/\r?\n$/, "");
      if (password === "") throw new UsageError("--password-stdin: standard input was empty");
      return { kind: "basic", username, password };
    })();
    return this.givenCredential;
  }
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
