/** What every command needs: parsed global flags, the client pool they imply, the output formatter. */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ClientPool, ClientPoolOptions, Credential, RetryNotice } from "../index.js";
import { loadLibrary } from "./library.js";
import { Output, type OutputStreams } from "./output.js";
import { ask, isInteractive, type TerminalInput } from "./prompt.js";

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
  quayUrl?: string;
  quayToken?: string;
  quayTokenFile?: string;
  rate?: number;
  /** Seconds. */
  timeout?: number;
}

export interface CliIo extends OutputStreams {
  stdin: TerminalInput;
  env: NodeJS.ProcessEnv;
  /** Aborted when the command is interrupted (bin/ aborts it on SIGINT and SIGTERM, with an Interrupted reason). */
  signal?: AbortSignal | undefined;
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
    this.poolPromise ??= Promise.all([loadLibrary(), this.credential(), this.quayToken()]).then(([{ ClientPool }, credentials, quayToken]) => new ClientPool(this.poolOptions(credentials, quayToken)));
    return this.poolPromise;
  }

  /** What every operation takes: the pool, and the signal that Ctrl-C / SIGTERM aborts. */
  async operation(): Promise<{ pool: ClientPool; signal: AbortSignal | undefined }> {
    return { pool: await this.pool(), signal: this.io.signal };
  }

  async close(): Promise<void> {
    if (this.poolPromise) await (await this.poolPromise.catch(() => undefined))?.close();
  }

  private poolOptions(credentials: Credential | undefined, quayToken: string | undefined): ClientPoolOptions {
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
      ...(o.rate !== undefined ? { rate: o.rate } : {}),
      ...(o.quayUrl !== undefined ? { quayUrl: o.quayUrl } : {}),
      ...(quayToken !== undefined ? { quayToken } : {}),
      ...(o.timeout !== undefined ? { timeoutMs: Math.round(o.timeout * 1000) } : {}),
      // A stall or a fault being retried is said, so that a long wait never looks like a hang.
      ...(o.quiet ? {} : { onRetry: (notice: RetryNotice) => stderr.write(`quayside: ${notice.message}\n`) }),
    };
  }

  /**
   * The Quay token (never a registry password): --quay-token-file (a file, or - for stdin), else
   * --quay-token (visible in `ps` to other users of the machine), else $QUAY_TOKEN, else none.
   */
  private async quayToken(): Promise<string | undefined> {
    const { quayTokenFile, quayToken, passwordStdin } = this.options;
    if (quayTokenFile === undefined) return quayToken ?? (this.io.env["QUAY_TOKEN"] || undefined);
    const { UsageError } = await loadLibrary();
    if (quayToken !== undefined) throw new UsageError("--quay-token and --quay-token-file exclude each other");
    if (quayTokenFile === "-" && passwordStdin) throw new UsageError("--quay-token-file - and --password-stdin cannot both read standard input");
    let text: string;
    try {
      text = quayTokenFile === "-" ? await readText(this.io.stdin) : await readFile(quayTokenFile, "utf8");
    } catch (err) {
      throw new UsageError(`--quay-token-file ${quayTokenFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const token = text.trim();
    if (token === "" || /\s/.test(token)) throw new UsageError(`--quay-token-file ${quayTokenFile}: expected one token${token === "" ? ", found nothing" : " on one line, found more"}`);
    return token;
  }

  /**
   * The credential given with -u/--password-stdin (stdin is read once), if any. With `ask` (login)
   * on a terminal, what is missing is asked for, the password without echo.
   */
  credential(options: { ask?: boolean } = {}): Promise<Credential | undefined> {
    this.givenCredential ??= (async () => {
      const { UsageError } = await loadLibrary();
      const { passwordStdin } = this.options;
      let { username } = this.options;
      const interactive = options.ask === true && !passwordStdin && isInteractive(this.io.stdin);
      if (username === undefined && interactive) username = (await ask(this.io.stdin, this.io.stderr, "Username: ")).trim();
      if (username === undefined || username === "") {
        if (passwordStdin) throw new UsageError("--password-stdin needs --username");
        return undefined;
      }
      if (interactive) {
        const password = await ask(this.io.stdin, this.io.stderr, "Password: ", { secret: true });
        if (password === "") throw new UsageError("no password given");
        return { kind: "basic", username, password };
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
