/**
 * The `quayside` command line: flag parsing and dispatch only. Every command is a thin
 * shell over library calls; errors become one line on stderr and a documented exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type * as ReadCommands from "./commands/read.js";
import type * as WriteCommands from "./commands/write.js";
import { CliContext, type CliIo, type GlobalOptions } from "./context.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import { loadedLibrary, loadLibrary, onDemand } from "./library.js";

// The command modules, and the library behind them, load when a command runs (src/cli/library.ts):
// --help and usage errors never load them.
const read = onDemand<typeof ReadCommands>(() => import("./commands/read.js"));
const write = onDemand<typeof WriteCommands>(() => import("./commands/write.js"));

export const VERSION = "0.1.0";

type Action = (ctx: CliContext, ...args: string[]) => Promise<void>;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

export function buildProgram(io: CliIo, run: (action: (ctx: CliContext) => Promise<void>, options: GlobalOptions) => Promise<void>): Command {
  const program = new Command("quayside")
    .description("Container registry client: read, copy and manage images in any Docker Registry v2 / OCI registry")
    .version(VERSION)
    .option("--json", "machine-readable JSON on stdout")
    .option("-q, --quiet", "no progress or info on stderr")
    .option("-v, --verbose", "log every HTTP request on stderr (secrets redacted)")
    .option("-u, --username <name>", "registry username (password from --password-stdin)")
    .option("--password-stdin", "read the password from standard input")
    .option("--plain-http", "talk plain HTTP (credentials then travel unencrypted)")
    .option("--skip-tls-verify", "accept any TLS certificate")
    .option("--ca-file <path>", "trust this PEM CA certificate")
    .option("--cert-file <path>", "TLS client certificate (PEM)")
    .option("--key-file <path>", "TLS client key (PEM)")
    .option("--platform <os/arch[/variant]>", "for a reference that is an index: the platform to use")
    .option("--authfile <path>", "credentials from this Docker / containers config file only (login, logout: the file to write)")
    .showHelpAfterError("(run quayside --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  const action =
    (fn: Action) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const positional = args.slice(0, -2).filter((a): a is string => typeof a === "string");
      await run((ctx) => fn(ctx, ...positional), command.optsWithGlobals<GlobalOptions>());
    };

  program
    .command("ping")
    .description("check that REGISTRY speaks the registry API, and how it authenticates")
    .argument("<registry>", "registry host, e.g. localhost:5000 or quay.io")
    .action(action((ctx, host) => read.ping(ctx, host as string)));

  program
    .command("catalog")
    .description("list every repository of REGISTRY (follows pagination)")
    .argument("<registry>")
    .option("--page-size <n>", "entries per page to ask for", positiveInt)
    .action(action((ctx, host) => read.catalog(ctx, host as string, pageSize(ctx))));

  program
    .command("tags")
    .description("list every tag of REPO (follows pagination)")
    .argument("<repo>", "repository, e.g. localhost:5000/team/app")
    .option("--page-size <n>", "entries per page to ask for", positiveInt)
    .action(action((ctx, repo) => read.tags(ctx, repo as string, pageSize(ctx))));

  program
    .command("manifest")
    .description("print the manifest of REF exactly as the registry serves it")
    .argument("<ref>")
    .action(action((ctx, ref) => read.manifest(ctx, ref as string)));

  program
    .command("digest")
    .description("print the digest of REF (of the index, or of one platform with --platform)")
    .argument("<ref>")
    .action(action((ctx, ref) => read.digest(ctx, ref as string)));

  program
    .command("config")
    .description("print the image config blob of REF exactly as stored (an index: --platform, else this host's)")
    .argument("<ref>")
    .action(action((ctx, ref) => read.config(ctx, ref as string)));

  program
    .command("inspect")
    .description("summarize REF: digest, media type, platforms; for an image: config, created, layers, size")
    .argument("<ref>")
    .action(action((ctx, ref) => read.inspect(ctx, ref as string)));

  const blob = program.command("blob").description("read, upload, mount and delete blobs");
  blob
    .command("get")
    .description("download the blob REPO@DIGEST (digest verified) to stdout or a file")
    .argument("<repo@digest>")
    .option("-o, --output <file>", "write to FILE (atomically: nothing is left if the download fails)")
    .addOption(new Option("--progress <mode>", "progress display on stderr").choices(["tty", "plain", "json", "none"]))
    .action(action((ctx, ref) => read.blobGet(ctx, ref as string, blobGetOptions(ctx))));
  blob
    .command("size")
    .description("print the size in bytes of the blob REPO@DIGEST")
    .argument("<repo@digest>")
    .action(action((ctx, ref) => read.blobSize(ctx, ref as string)));

  const progressOption = () => new Option("--progress <mode>", "progress display on stderr (default: bars on a terminal, plain lines otherwise)").choices(["tty", "plain", "json", "none"]);

  program
    .command("copy")
    .description("copy an image between registries, OCI layouts (oci:PATH[:TAG]) and docker archives (docker-archive:PATH[:REF])")
    .argument("<source>")
    .argument("<destination>")
    .option("--all-platforms", "copy every platform of an index (the default; digests stay the same)")
    .option("-j, --jobs <n>", "blobs copied at once", positiveInt, 4)
    .option("--referrers", "also copy the referrers (signatures, SBOMs, attestations) of every manifest copied (registries, OCI layouts)")
    .option("--src-authfile <path>", "credentials for the source registry from this Docker config.json (e.g. another account on the same registry)")
    .option("--dest-authfile <path>", "credentials for the destination registry from this Docker config.json")
    .addOption(progressOption())
    .addHelpText("after", "\n--platform a[,b...]: copy only these platforms of an index; one gives that image alone, several a new index (with a new digest).")
    .action(action((ctx, src, dst) => write.copy(ctx, src as string, dst as string, copyOptions(ctx))));

  program
    .command("tag")
    .description("put the manifest of REF under NEWTAG (a tag, or a full reference in another repository)")
    .argument("<ref>")
    .argument("<newtag>")
    .action(action((ctx, ref, newTag) => write.tag(ctx, ref as string, newTag as string)));

  program
    .command("delete")
    .description("delete the manifest REF names (by tag: every tag on that manifest goes with it)")
    .argument("<ref>")
    .action(action((ctx, ref) => write.deleteImage(ctx, ref as string)));

  program
    .command("untag")
    .description("remove one tag, keeping the manifest and its other tags")
    .argument("<repo:tag>")
    .action(action((ctx, ref) => write.untag(ctx, ref as string)));

  program
    .command("check")
    .description("verify that every manifest and blob of REF is present (exit 3 if not)")
    .argument("<ref>")
    .action(action((ctx, ref) => write.check(ctx, ref as string)));

  blob
    .command("put")
    .description("upload FILE as a blob of REPO; prints its digest")
    .argument("<repo>")
    .argument("<file>")
    .addOption(progressOption())
    .action(action((ctx, repo, file) => write.blobPut(ctx, repo as string, file as string, progressOnly(ctx))));
  blob
    .command("mount")
    .description("make blob DIGEST of FROM-REPO appear in REPO (same registry) without copying bytes")
    .argument("<repo>")
    .argument("<from-repo>")
    .argument("<digest>")
    .action(action((ctx, repo, from, digest) => write.blobMount(ctx, repo as string, from as string, digest as string)));
  blob
    .command("delete")
    .description("delete the blob REPO@DIGEST")
    .argument("<repo@digest>")
    .action(action((ctx, ref) => write.blobDelete(ctx, ref as string)));

  program
    .command("login")
    .description("check credentials against REGISTRY and save them in Docker's config.json ($DOCKER_CONFIG), or --authfile")
    .argument("<registry>")
    .action(action((ctx, host) => write.login(ctx, host as string)));

  program
    .command("logout")
    .description("remove REGISTRY's credentials from Docker's config.json, or --authfile")
    .argument("<registry>")
    .action(action((ctx, host) => write.logout(ctx, host as string)));

  return program;
}

function copyOptions(ctx: CliContext): WriteCommands.CopyCommandOptions {
  const o = ctx.options as { allPlatforms?: boolean; referrers?: boolean; jobs?: number; progress?: string; srcAuthfile?: string; destAuthfile?: string };
  return {
    ...(o.allPlatforms ? { allPlatforms: true } : {}),
    ...(o.referrers ? { referrers: true } : {}),
    ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    ...(o.srcAuthfile !== undefined ? { srcAuthFile: o.srcAuthfile } : {}),
    ...(o.destAuthfile !== undefined ? { destAuthFile: o.destAuthfile } : {}),
  };
}

function progressOnly(ctx: CliContext): { progress?: string } {
  const o = ctx.options as { progress?: string };
  return o.progress !== undefined ? { progress: o.progress } : {};
}

function pageSize(ctx: CliContext): { pageSize?: number } {
  const value = (ctx.options as { pageSize?: number }).pageSize;
  return value !== undefined ? { pageSize: value } : {};
}

function blobGetOptions(ctx: CliContext): { output?: string; progress?: string } {
  const o = ctx.options as { output?: string; progress?: string };
  return { ...(o.output !== undefined ? { output: o.output } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}) };
}

/** Run the CLI; resolves to the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const run = async (fn: (ctx: CliContext) => Promise<void>, options: GlobalOptions): Promise<void> => {
    const ctx = new CliContext(options, io);
    try {
      await loadLibrary();
      await fn(ctx);
    } catch (err) {
      exitCode = exitCodeFor(err);
      ctx.output.error(describe(err));
    } finally {
      await ctx.close();
    }
  };
  try {
    await buildProgram(io, run).parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === "commander.helpDisplayed" || err.code === "commander.version" ? ExitCode.Ok : ExitCode.Usage;
    }
    io.stderr.write(`quayside: ${describe(err)}\n`);
    return ExitCode.Error;
  }
  return exitCode;
}

function describe(err: unknown): string {
  const library = loadedLibrary();
  if (library !== undefined && err instanceof library.QuaysideError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
