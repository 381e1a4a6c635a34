/**
 * The `quayside` command line: flag parsing and dispatch only. Every command is a thin
 * shell over library calls; errors become one line on stderr and a documented exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type * as AliasCommands from "./commands/alias.js";
import type * as QuayCommands from "./commands/quay.js";
import type * as ReadCommands from "./commands/read.js";
import type * as WriteCommands from "./commands/write.js";
import type * as IndexMergeCommands from "./commands/index-merge.js";
import { CliContext, type CliIo, type GlobalOptions } from "./context.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import { Interrupted, interruptedMessage } from "./interrupt.js";
import { loadedLibrary, loadLibrary, onDemand } from "./library.js";

// The command modules, and the library behind them, load when a command runs (src/cli/library.ts):
// --help and usage errors never load them.
const read = onDemand<typeof ReadCommands>(() => import("./commands/read.js"));
const write = onDemand<typeof WriteCommands>(() => import("./commands/write.js"));
const quay = onDemand<typeof QuayCommands>(() => import("./commands/quay.js"));
const aliases = onDemand<typeof AliasCommands>(() => import("./commands/alias.js"));
const indexMerge = onDemand<typeof IndexMergeCommands>(() => import("./commands/index-merge.js"));

/** A quay:// URI (discovery) rather than one image: the library decides. */
async function isQuayUri(text: string): Promise<boolean> {
  return (await loadLibrary()).isQuayUri(text);
}

export const VERSION = "0.1.0";
export { abortOnSignals } from "./interrupt.js";

type Action = (ctx: CliContext, ...args: string[]) => Promise<void>;

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new InvalidArgumentError("must be a number of seconds, more than 0");
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
}

export function buildProgram(io: CliIo, run: (command: string, action: (ctx: CliContext) => Promise<void>, options: GlobalOptions) => Promise<void>): Command {
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
    .option("--quay-url <url>", "the Quay server when a name or quay:// URI gives none (default https://quay.io)")
    .option("--quay-token-file <file>", "read the Quay token (robot or OAuth application) from FILE, or - for stdin")
    .option("--quay-token <token>", "a Quay token on the command line: visible to other users of the machine (ps); prefer QUAY_TOKEN or --quay-token-file (default: $QUAY_TOKEN, else anonymous)")
    .option("--rate <n>", "at most N requests per second to each host", positiveNumber)
    .option("--timeout <seconds>", "idle time allowed on a request before it counts as stalled and is retried (default 30)", positiveSeconds)
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
      // A variadic argument (<digest...>) arrives as an array: its items are positionals too.
      const positional = args
        .slice(0, -2)
        .flatMap((a) => (Array.isArray(a) ? (a as unknown[]) : [a]))
        .filter((a): a is string => typeof a === "string");
      const name = command.parent && command.parent.parent ? `${command.parent.name()} ${command.name()}` : command.name();
      await run(name, (ctx) => fn(ctx, ...positional), command.optsWithGlobals<GlobalOptions>());
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

  const shardOption = () => new Option("--shard <i/n>", "quay:// only: this part of the matches (1 <= I <= N), split by a hash of ORG/REPO:TAG");

  program
    .command("inspect")
    .description("summarize REF: digest, media type, platforms; for an image: config, created, layers, size (a quay:// URI: every match)")
    .argument("<ref>", "a location, or quay://[HOST/]ORG[/GLOB][:TAG][?since=YYYY-MM-DD]")
    .option("-j, --jobs <n>", "quay://: Quay tag queries at once", positiveInt)
    .addOption(shardOption())
    .action(action(async (ctx, ref) => ((await isQuayUri(ref as string)) ? quay.bulkInspect(ctx, ref as string, discoveryOptions(ctx)) : read.inspect(ctx, ref as string))));

  const blob = program.command("blob").description("read, upload, mount and delete blobs");
  blob
    .command("get")
    .description("download the blob REPO@DIGEST (digest verified) to stdout or a file; REPO NAME...: the blobs of each digest or @ALIAS, one after the other")
    .argument("<repo@digest>", "REPO@DIGEST, or REPO when NAMEs follow")
    .argument("[names...]", "blob digests and @ALIAS names (a multi-arch alias needs --platform), as `dxf pull-blob REPO NAME...`")
    .option("-o, --output <file>", "write to FILE (atomically: nothing is left if the download fails)")
    .addOption(new Option("--progress <mode>", "progress display on stderr").choices(["tty", "plain", "json", "none"]))
    .action(
      action((ctx, ref, ...names) =>
        names.length > 0 ? aliases.blobGetNames(ctx, ref as string, names, blobGetOptions(ctx)) : read.blobGet(ctx, ref as string, blobGetOptions(ctx)),
      ),
    );
  blob
    .command("size")
    .description("print the size in bytes of the blob REPO@DIGEST; REPO NAME...: of each digest, and each @ALIAS's total, one per line")
    .argument("<repo@digest>", "REPO@DIGEST, or REPO when NAMEs follow")
    .argument("[names...]", "blob digests and @ALIAS names, as `dxf blob-size REPO NAME...`")
    .action(action((ctx, ref, ...names) => (names.length > 0 ? aliases.blobSizeNames(ctx, ref as string, names) : read.blobSize(ctx, ref as string))));

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
    .option("--dry-run", "quay:// only: print the plan (to copy / up to date) and write nothing")
    .option("--image-jobs <n>", "quay:// only: images copied at once", positiveInt, 4)
    .option("--discover-jobs <n>", "quay:// only: Quay tag queries (and destination checks) at once", positiveInt)
    .addOption(shardOption())
    .addHelpText(
      "after",
      [
        "",
        "--platform a[,b...]: copy only these platforms of an index; one gives that image alone, several a new index (with a new digest).",
        "",
        "SOURCE may be quay://[HOST/]ORG[/GLOB][:TAG][?since=YYYY-MM-DD]: every match is mirrored to DEST, a registry",
        "prefix (host/prefix -> host/prefix/REPO:TAG), a template (host/mirror/{org}-{repo}:{tag}) or oci:DIR (images",
        "named ORG/REPO:TAG). Images whose digest the destination already has are not read from Quay at all.",
      ].join("\n"),
    )
    .action(action(async (ctx, src, dst) => ((await isQuayUri(src as string)) ? quay.mirror(ctx, src as string, dst as string, mirrorOptions(ctx)) : write.copy(ctx, src as string, dst as string, copyOptions(ctx)))));

  program
    .command("tag")
    .description("put the manifest of REF under NEWTAG (a tag, or a full reference in another repository)")
    .argument("<ref>")
    .argument("<newtag>")
    .action(action((ctx, ref, newTag) => write.tag(ctx, ref as string, newTag as string)));

  program
    .command("delete")
    .description("delete the manifest REF names (by tag: every tag on that manifest goes with it)")
    .option("--layers", "also delete what it references, after it: an index's image manifests, every config and layer blob (an image sharing one of them breaks)")
    .argument("<ref>")
    .action(action((ctx, ref) => write.deleteImage(ctx, ref as string, { layers: (ctx.options as { layers?: boolean }).layers === true })));

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

  const alias = program
    .command("alias")
    .description("python-dxf's aliases: a tag on a manifest that lists blobs (the first also as its config)")
    .addHelpText("after", "\nA multi-arch alias (an index) prints one JSON object keyed by platform (os/arch[/variant]); --platform picks one.");
  alias
    .command("set")
    .description("name the blobs DIGEST... ALIAS in REPO: writes and prints a schema-2 manifest, config = the first blob (as `dxf set-alias`; a path, with a /, stands for its file's digest)")
    .argument("<repo>")
    .argument("<alias>")
    .argument("<digest...>")
    .action(action((ctx, repo, name, ...digests) => aliases.set(ctx, repo as string, name as string, digests)));
  alias
    .command("get")
    .description("print the blob digests each ALIAS names, one per line (as `dxf get-alias`)")
    .argument("<repo>")
    .argument("<alias...>")
    .option("--sizes", "each blob's size after its digest")
    .action(action((ctx, repo, ...names) => aliases.get(ctx, repo as string, names, { sizes: (ctx.options as { sizes?: boolean }).sizes === true })));
  alias
    .command("digest")
    .description("print the config digest of ALIAS: its first blob, or an image's ID (as `dxf get-digest`)")
    .argument("<repo>")
    .argument("<alias>")
    .action(action((ctx, repo, name) => aliases.digest(ctx, repo as string, name as string)));
  alias
    .command("delete")
    .description("delete each ALIAS's manifest (by digest: EVERY tag on it goes too; the blobs stay) and print what it pointed to (as `dxf del-alias`)")
    .argument("<repo>")
    .argument("<alias...>")
    .action(action((ctx, repo, ...names) => aliases.remove(ctx, repo as string, names)));
  alias
    .command("list")
    .description("list every alias (tag) of REPO, every page (as `dxf list-aliases`)")
    .argument("<repo>")
    .option("--page-size <n>", "entries per page to ask for", positiveInt)
    .action(action((ctx, repo) => aliases.list(ctx, repo as string, pageSize(ctx))));

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

  const quayCommand = program.command("quay").description("Quay's REST API: repositories, tags, discovery (token: QUAY_TOKEN, --quay-token-file or --quay-token)");
  quayCommand
    .command("repos")
    .description("list the repositories of ORG (one ORG/REPO per line; with a token, private ones it may read too)")
    .argument("<org>", "[HOST/]ORG")
    .action(action((ctx, org) => quay.repos(ctx, org as string)));
  quayCommand
    .command("tags")
    .description("list the active tags of ORG/REPO, newest first (--all: expired ones too, with digest, start and end)")
    .argument("<org/repo>", "[HOST/]ORG/REPO")
    .option("--all", "also expired tags, with digest and start/end times as further columns")
    .action(action((ctx, repo) => quay.tags(ctx, repo as string, { all: (ctx.options as { all?: boolean }).all === true })));
  quayCommand
    .command("discover")
    .description("list the images a quay:// URI matches, one reference per line (--json: with digest and times)")
    .argument("<quay-uri>", "quay://[HOST/]ORG[/GLOB][:TAG][?since=YYYY-MM-DD]")
    .option("-j, --jobs <n>", "tag queries at once", positiveInt, 8)
    .addOption(shardOption())
    .action(action((ctx, uri) => quay.discover(ctx, uri as string, discoveryOptions(ctx))));
  quayCommand
    .command("delete-tag")
    .description("delete the tag ORG/REPO:TAG (one already gone is a note, exit 0)")
    .argument("<org/repo:tag>")
    .action(action((ctx, ref) => quay.deleteTag(ctx, ref as string)));
  quayCommand
    .command("set-tag")
    .description("point ORG/REPO:TAG at DIGEST, a manifest the repository holds (creates the tag if needed)")
    .argument("<org/repo:tag>")
    .argument("<digest>")
    .action(action((ctx, ref, digest) => quay.setTag(ctx, ref as string, digest as string)));
  quayCommand
    .command("delete-repo")
    .description("delete the repository ORG/REPO and everything in it")
    .argument("<org/repo>")
    .action(action((ctx, repo) => quay.deleteRepo(ctx, repo as string)));

  // pubtools-quay's ManifestListMerger (issue 10).
  const indexCommand = program.command("index").description("manifest lists and OCI indexes");
  indexCommand
    .command("merge")
    .description("make DST's list SRC's entries plus DST's entries for platforms SRC lacks; SRC's children copied to DST first")
    .argument("<src>", "a manifest list or OCI index")
    .argument("<dst>", "a tag (nothing there: it gets SRC's list; a single image there is an error)")
    .addOption(new Option("--match <rule>", "what makes two entries the same platform: platform (os/arch/variant) or architecture (pubtools' rule)").choices(["platform", "architecture"]))
    .option("-j, --jobs <n>", "blobs copied at once", positiveInt)
    .action(
      action((ctx, src, dst) => {
        const o = ctx.options as { match?: "platform" | "architecture"; jobs?: number };
        return indexMerge.merge(ctx, src as string, dst as string, { ...(o.match !== undefined ? { match: o.match } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}) });
      }),
    );

  return program;
}

function discoveryOptions(ctx: CliContext): QuayCommands.DiscoveryCommandOptions {
  const o = ctx.options as { jobs?: number; shard?: string };
  return { ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), ...(o.shard !== undefined ? { shard: o.shard } : {}) };
}

function mirrorOptions(ctx: CliContext): QuayCommands.MirrorCommandOptions {
  const o = ctx.options as { jobs?: number; shard?: string; dryRun?: boolean; imageJobs?: number; discoverJobs?: number; progress?: string };
  return {
    ...(o.discoverJobs !== undefined ? { jobs: o.discoverJobs } : {}),
    ...(o.shard !== undefined ? { shard: o.shard } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(o.imageJobs !== undefined ? { imageJobs: o.imageJobs } : {}),
    ...(o.jobs !== undefined ? { blobJobs: o.jobs } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
  };
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
  const run = async (command: string, fn: (ctx: CliContext) => Promise<void>, options: GlobalOptions): Promise<void> => {
    const ctx = new CliContext(options, io);
    try {
      await loadLibrary();
      await fn(ctx);
    } catch (err) {
      const interrupted: unknown = io.signal?.aborted ? io.signal.reason : undefined;
      if (interrupted instanceof Interrupted) {
        exitCode = interrupted.exitCode;
        ctx.output.error(interruptedMessage(command, interrupted));
      } else {
        exitCode = exitCodeFor(err);
        ctx.output.error(describe(err));
      }
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
  // Not ours, so not bounded yet: still one line of a few hundred characters.
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return library !== undefined ? library.bounded(text, library.MAX_MESSAGE_LENGTH) : text.replace(/\s+/g, " ").slice(0, 500);
}
