/** The CLI read commands against the real registry: output, JSON shapes, exit codes, and the real binary. */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { digestOf } from "../../src/digest/digest.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { skopeoInspectRaw } from "../harness/skopeo.js";
import { runCli } from "./helpers.js";

const execFileAsync = promisify(execFile);

let env: TestEnvironment;
let workDir: string;
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

before(async () => {
  env = await getTestEnvironment();
  workDir = await mkdtemp(join(tmpdir(), "quayside-cli-"));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const anon = (path: string): string => `${env.anonymous.host}/${path}`;

describe("read commands, anonymous registry", () => {
  test("ping", async () => {
    const text = await runCli(["ping", env.anonymous.host]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.out, /ok .*registry\/2\.0.*auth: none/);
    const json = await runCli(["--json", "ping", env.anonymous.host]);
    assert.deepEqual(JSON.parse(json.out), {
      registry: env.anonymous.host,
      status: 200,
      apiVersion: "registry/2.0",
      authSchemes: [],
      url: `${env.anonymous.url}/v2/`,
    });
  });

  test("catalog lists every repository, text and JSON", async () => {
    const text = await runCli(["catalog", env.anonymous.host]);
    assert.equal(text.code, 0, text.stderr);
    const expected = [...env.anonymous.seeded.repositories].sort();
    assert.deepEqual(text.out.trimEnd().split("\n"), expected);
    const json = await runCli(["--json", "catalog", env.anonymous.host, "--page-size", "5"]);
    assert.deepEqual(JSON.parse(json.out), { registry: env.anonymous.host, repositories: expected });
  });

  test("tags through a paginating front", async () => {
    const repo = `${env.pagers.anonymous.host}/${env.anonymous.seeded.tags.repository}`;
    const text = await runCli(["tags", repo]);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(text.out.trimEnd().split("\n"), env.anonymous.seeded.tags.tags);
    const json = await runCli(["--json", "tags", repo]);
    assert.deepEqual(JSON.parse(json.out), { repository: repo, tags: env.anonymous.seeded.tags.tags });
  });

  test("manifest prints the exact bytes skopeo sees", async () => {
    for (const image of [env.anonymous.seeded.single, env.anonymous.seeded.docker, env.anonymous.seeded.multi]) {
      const result = await runCli(["manifest", image.reference]);
      assert.equal(result.code, 0, result.stderr);
      const raw = await skopeoInspectRaw({ host: env.anonymous.host, url: env.anonymous.url }, `${image.repository}:${image.tag}`);
      assert.deepEqual(result.stdout, raw.bytes);
      assert.equal(digestOf(result.stdout), image.skopeoDigest);
    }
    const child = env.anonymous.seeded.multi.manifests.find((m) => m.platform.architecture === "arm");
    assert.ok(child);
    const arm = await runCli(["--platform", "linux/arm/v7", "manifest", env.anonymous.seeded.multi.reference]);
    assert.equal(digestOf(arm.stdout), child.digest);
    const json = await runCli(["--json", "manifest", env.anonymous.seeded.single.reference]);
    const parsed = JSON.parse(json.out) as { digest: string; mediaType: string; size: number; manifest: { layers: unknown[] } };
    assert.equal(parsed.digest, env.anonymous.seeded.single.digest);
    assert.equal(parsed.size, env.anonymous.seeded.single.size);
    assert.equal(parsed.manifest.layers.length, env.anonymous.seeded.single.manifests[0]?.layers.length);
  });

  test("digest of a tag, of an index, of one platform", async () => {
    const multi = env.anonymous.seeded.multi;
    const index = await runCli(["digest", multi.reference]);
    assert.equal(index.out.trim(), multi.skopeoDigest);
    const amd64 = await runCli(["--platform", "linux/amd64", "digest", multi.reference]);
    assert.equal(amd64.out.trim(), multi.manifests.find((m) => m.platform.architecture === "amd64")?.digest);
    const json = await runCli(["--json", "digest", env.anonymous.seeded.docker.reference]);
    assert.deepEqual(JSON.parse(json.out), {
      reference: `${env.anonymous.seeded.docker.reference}`,
      digest: env.anonymous.seeded.docker.digest,
      mediaType: env.anonymous.seeded.docker.mediaType,
      size: env.anonymous.seeded.docker.size,
    });
  });

  test("config prints the config blob's exact bytes", async () => {
    const arm64 = env.anonymous.seeded.multi.manifests.find((m) => m.platform.architecture === "arm64");
    assert.ok(arm64);
    const result = await runCli(["--platform", "linux/arm64/v8", "config", env.anonymous.seeded.multi.reference]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(digestOf(result.stdout), arm64.config.digest);
    assert.equal(result.stdout.length, arm64.config.size);
  });

  test("inspect an index and one of its platforms", async () => {
    const multi = env.anonymous.seeded.multi;
    const index = await runCli(["--json", "inspect", multi.reference]);
    const summary = JSON.parse(index.out) as { kind: string; digest: string; platforms: string[] };
    assert.equal(summary.kind, "index");
    assert.equal(summary.digest, multi.digest);
    assert.deepEqual(summary.platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    const text = await runCli(["inspect", multi.reference]);
    assert.match(text.out, /Platforms: +linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/);

    const amd64 = multi.manifests.find((m) => m.platform.architecture === "amd64");
    assert.ok(amd64);
    const image = await runCli(["--json", "--platform", "linux/amd64", "inspect", multi.reference]);
    const detail = JSON.parse(image.out) as {
      kind: string;
      digest: string;
      indexDigest: string;
      platform: string;
      created: string;
      config: { digest: string };
      layers: { digest: string; size: number }[];
      totalSize: number;
    };
    assert.equal(detail.kind, "image");
    assert.equal(detail.digest, amd64.digest);
    assert.equal(detail.indexDigest, multi.digest);
    assert.equal(detail.platform, "linux/amd64");
    assert.equal(detail.config.digest, amd64.config.digest);
    assert.deepEqual(
      detail.layers.map((l) => [l.digest, l.size]),
      amd64.layers.map((l) => [l.digest, l.size]),
    );
    assert.equal(detail.totalSize, amd64.size + amd64.config.size + amd64.layers.reduce((s, l) => s + l.size, 0));
    assert.ok(!Number.isNaN(Date.parse(detail.created)));
  });

  test("blob get writes a verified file; blob size", async () => {
    const layer = env.anonymous.seeded.single.manifests[0]?.layers[0];
    assert.ok(layer);
    const ref = anon(`test/single@${layer.digest}`);
    const size = await runCli(["blob", "size", ref]);
    assert.equal(size.out.trim(), String(layer.size));
    const file = join(workDir, "layer.tar.gz");
    const got = await runCli(["blob", "get", ref, "-o", file]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(digestOf(await readFile(file)), layer.digest);
    const toStdout = await runCli(["blob", "get", ref]);
    assert.equal(digestOf(toStdout.stdout), layer.digest);
  });

  test("exit codes: not found 3, bad input 2", async () => {
    const missingTag = await runCli(["manifest", anon("test/single:nope")]);
    assert.equal(missingTag.code, 3);
    assert.equal(missingTag.stderr, `quayside: manifest ${anon("test/single:nope")} not found\n`);
    assert.equal(missingTag.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    const missingRepo = await runCli(["tags", anon("no/such-repo")]);
    assert.equal(missingRepo.code, 3);
    const file = join(workDir, "missing.blob");
    const missingBlob = await runCli(["blob", "get", anon(`test/single@${digestOf("nothing")}`), "-o", file]);
    assert.equal(missingBlob.code, 3);
    assert.deepEqual((await readdir(workDir)).filter((f) => f.includes("missing")), [], "no file left behind");
    const noPlatform = await runCli(["--platform", "linux/s390x", "inspect", env.anonymous.seeded.multi.reference]);
    assert.equal(noPlatform.code, 3);
    assert.match(noPlatform.stderr, /linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/);

    const upper = await runCli(["manifest", anon("Test/Single:v1")]);
    assert.equal(upper.code, 2);
    assert.match(upper.stderr, /lowercase/);
    const badDigest = await runCli(["blob", "size", anon("test/single@sha256:abc")]);
    assert.equal(badDigest.code, 2);
    const unknownFlag = await runCli(["tags", "--no-such-flag", anon("test/single")]);
    assert.equal(unknownFlag.code, 2);
    const missingArg = await runCli(["manifest"]);
    assert.equal(missingArg.code, 2);
  });
});

describe("read commands with credentials", () => {
  test("basic auth over TLS with --ca-file and --password-stdin", async () => {
    const ref = `${env.basic.host}/test/single:v1`;
    const ok = await runCli(["-u", env.basic.username, "--password-stdin", "--ca-file", env.basic.caFile, "digest", ref], { stdin: `${env.basic.password}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.out.trim(), env.basic.seeded.single.digest);

    const untrusted = await runCli(["-u", env.basic.username, "--password-stdin", "digest", ref], { stdin: env.basic.password });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /certificate/);

    const wrong = await runCli(["-u", env.basic.username, "--password-stdin", "--ca-file", env.basic.caFile, "digest", ref], { stdin: "wrong" });
    assert.equal(wrong.code, 4);

    const noPassword = await runCli(["-u", env.basic.username, "digest", ref]);
    assert.equal(noPassword.code, 2);
  });

  test("token auth: reader reads, --verbose never shows secrets", async () => {
    const reader = env.token.users.reader;
    const result = await runCli(["-v", "-u", reader.username, "--password-stdin", "inspect", env.token.seeded.single.reference], { stdin: reader.password });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.out, new RegExp(env.token.seeded.single.digest));
    assert.match(result.stderr, /Bearer REDACTED/);
    assert.ok(!result.stderr.includes(reader.password), "password leaked into the log");
    assert.ok(!/Bearer [A-Za-z0-9_-]{20,}/.test(result.stderr), "token leaked into the log");
    assert.ok(!result.stderr.includes(Buffer.from(`${reader.username}:${reader.password}`).toString("base64")));

    const denied = await runCli(["manifest", env.token.seeded.single.reference]);
    assert.equal(denied.code, 4, denied.stderr);
  });

  test("credentials from DOCKER_CONFIG", async () => {
    const dir = await mkdtemp(join(workDir, "docker-"));
    const admin = env.token.users.admin;
    await writeFile(join(dir, "config.json"), JSON.stringify({ auths: { [env.token.host]: { auth: Buffer.from(`${admin.username}:${admin.password}`).toString("base64") } } }));
    const result = await runCli(["digest", env.token.seeded.multi.reference], { env: { DOCKER_CONFIG: dir } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.out.trim(), env.token.seeded.multi.digest);
  });
});

describe("the installed binary", () => {
  test("bin/quayside.js runs, prints, and exits with the documented codes", async () => {
    const bin = join(repoRoot, "bin", "quayside.js");
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolvePromise) => {
        execFile(process.execPath, [bin, ...args], { timeout: 30_000, env: { ...process.env, DOCKER_CONFIG: workDir } }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolvePromise({ code, stdout, stderr });
        });
      });
    const ok = await run(["digest", env.anonymous.seeded.single.reference]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), env.anonymous.seeded.single.digest);
    const missing = await run(["digest", anon("test/single:missing")]);
    assert.equal(missing.code, 3);
    const version = await run(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });

  test("the bundle runs a Docker credential helper (child_process, loaded only then)", async () => {
    const dir = await mkdtemp(join(workDir, "helper-"));
    const admin = env.token.users.admin;
    const helper = join(dir, "docker-credential-quaysidetest");
    await writeFile(helper, `#!/bin/sh\ncat >/dev/null\necho '${JSON.stringify({ Username: admin.username, Secret: admin.password })}'\n`, { mode: 0o755 });
    await writeFile(join(dir, "config.json"), JSON.stringify({ credHelpers: { [env.token.host]: "quaysidetest" } }));
    const { stdout } = await execFileAsync(process.execPath, [join(repoRoot, "bin", "quayside.js"), "digest", env.token.seeded.multi.reference], {
      timeout: 30_000,
      env: { ...process.env, DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH ?? ""}` },
    });
    assert.equal(stdout.trim(), env.token.seeded.multi.digest);
  });

  test("both bundles load with their code caches accepted; --help loads neither the library's bundle nor a built-in it needs", async () => {
    // Loads the CLI as bin/quayside.js does, in a fresh Node, runs --help, then a digest, and reports what V8 and Node did.
    const probe = [
      `const { Readable, Writable } = require("node:stream");`,
      `const before = new Set(process.moduleLoadList);`,
      `const { loadCli } = require(${JSON.stringify(join(repoRoot, "bin", "load-cli.js"))});`,
      `const { main, script, libraryScript } = loadCli();`,
      `const builtins = () => process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith("NativeModule ")).map((m) => m.slice("NativeModule ".length));`,
      `const atLoad = builtins();`,
      `const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });`,
      // Not process.stdin: reading that getter opens the pipe, which loads node:net.
      `const io = { stdin: Readable.from([]), stdout: sink, stderr: sink, env: { DOCKER_CONFIG: ${JSON.stringify(workDir)} } };`,
      `(async () => {`,
      `  const help = await main(["--help"], io);`,
      `  const afterHelp = builtins(), libraryAfterHelp = libraryScript() !== undefined;`,
      `  const digest = await main(["digest", ${JSON.stringify(env.anonymous.seeded.single.reference)}], io);`,
      `  console.log(JSON.stringify({ main: typeof main, rejected: script.cachedDataRejected, libraryRejected: libraryScript()?.cachedDataRejected, atLoad, afterHelp, libraryAfterHelp, help, digest }));`,
      `})();`,
    ].join("\n");
    const { stdout } = await execFileAsync(process.execPath, ["-e", probe], { timeout: 30_000 });
    const report = JSON.parse(stdout) as {
      main: string;
      rejected: boolean | undefined;
      libraryRejected: boolean | undefined;
      atLoad: string[];
      afterHelp: string[];
      libraryAfterHelp: boolean;
      help: number;
      digest: number;
    };
    assert.equal(report.main, "function");
    assert.deepEqual([report.help, report.digest], [0, 0]);
    assert.equal(report.rejected, false, "V8 rejected dist/cli.cjs.cache (built by another Node, or under other flags than bin/load-cli.js sets)");
    assert.equal(report.libraryRejected, false, "V8 rejected dist/cli-lib.cjs.cache (built by another Node, or under other flags than bin/load-cli.js sets)");
    assert.ok(report.atLoad.includes("vm"), "the probe saw no module loads at all");
    // --help builds the whole command table; the library (HTTP stack, TLS, stores) stays unloaded.
    assert.equal(report.libraryAfterHelp, false, "--help loaded dist/cli-lib.cjs");
    // (node:net may load: commander asks whether process.stdout is a terminal, which opens a piped stdout.)
    for (const unneeded of ["http2", "child_process", "http", "tls", "crypto", "assert", "readline", "fs/promises", "zlib"]) {
      assert.ok(!report.afterHelp.includes(unneeded), `node:${unneeded} is loaded by --help`);
    }
  });

  test("--version loads nothing but package.json, and agrees with the CLI's own version", async () => {
    const preload = join(workDir, "report-loads.cjs");
    // fs.writeSync: process.stderr would load what is looked for.
    await writeFile(preload, `process.on("exit", () => require("fs").writeSync(2, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));\n`);
    const inProcess = await runCli(["--version"]);
    const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const { stdout, stderr } = await execFileAsync(process.execPath, ["--require", preload, join(repoRoot, "bin", "quayside.js"), flag], { timeout: 30_000 });
      assert.equal(stdout, `${version}\n`);
      assert.equal(stdout, inProcess.out, "bin/quayside.js and the CLI print different versions");
      const loads = JSON.parse(stderr) as { files: string[]; builtins: string[] };
      assert.deepEqual(loads.files.sort(), [join(repoRoot, "bin", "quayside.js"), join(repoRoot, "package.json"), preload].sort());
      assert.ok(!loads.builtins.includes("NativeModule vm"), "--version compiled the bundle");
      // Not even the stream behind process.stdout (its stdout here is a pipe: node:net).
      for (const unneeded of ["stream", "net"]) assert.ok(!loads.builtins.includes(`NativeModule ${unneeded}`), `--version loaded node:${unneeded}`);
    }
  });

  test("without WebAssembly SIMD, the bundle reads undici's other HTTP parser from the installed package", async () => {
    const preload = join(workDir, "no-wasm-simd.cjs");
    // The first WebAssembly module compiled is undici's SIMD parser, in the background and then, the
    // background compile having failed, on the main thread: fail both, as a CPU without SIMD would.
    await writeFile(
      preload,
      `const Module = WebAssembly.Module; let first = true;\n` +
        `WebAssembly.compile = () => Promise.reject(new WebAssembly.CompileError("no SIMD (test)"));\n` +
        `WebAssembly.Module = function (bytes) { if (first) { first = false; throw new WebAssembly.CompileError("no SIMD (test)"); } process.env.FALLBACK_PARSER = "1"; return new Module(bytes); };\n` +
        `process.on("exit", () => require("fs").writeSync(2, process.env.FALLBACK_PARSER === "1" ? "fallback" : "simd"));\n`,
    );
    const { stdout, stderr } = await execFileAsync(process.execPath, ["--require", preload, join(repoRoot, "bin", "quayside.js"), "digest", env.anonymous.seeded.single.reference], {
      timeout: 30_000,
      env: { ...process.env, DOCKER_CONFIG: workDir },
    });
    assert.equal(stdout.trim(), env.anonymous.seeded.single.digest);
    assert.equal(stderr, "fallback");
  });

  test("undici's HTTP parser is compiled from dist/llhttp_simd.wasm, started in the background when the library loads", async () => {
    const preload = join(workDir, "report-parser-compile.cjs");
    // Which compiles there were: the asynchronous one (V8 compiles on a background thread) and the
    // main thread's synchronous ones (undici's own, or ours when the background one is late).
    await writeFile(
      preload,
      `const compile = WebAssembly.compile, Module = WebAssembly.Module, seen = [];\n` +
        `WebAssembly.compile = function (bytes) { seen.push("async " + bytes.length); return compile.call(this, bytes); };\n` +
        `WebAssembly.Module = function (bytes) { seen.push("sync " + bytes.length); return new Module(bytes); };\n` +
        `process.on("exit", () => require("fs").writeSync(2, JSON.stringify(seen)));\n`,
    );
    const { stdout, stderr } = await execFileAsync(process.execPath, ["--require", preload, join(repoRoot, "bin", "quayside.js"), "digest", env.anonymous.seeded.single.reference], {
      timeout: 30_000,
      env: { ...process.env, DOCKER_CONFIG: workDir },
    });
    assert.equal(stdout.trim(), env.anonymous.seeded.single.digest);
    const parserBytes = (await readFile(join(repoRoot, "dist", "llhttp_simd.wasm"))).length;
    const compiles = JSON.parse(stderr) as string[];
    assert.equal(compiles[0], `async ${parserBytes}`, `the parser was not compiled in the background first: ${stderr}`);
    // If the background compile was late the main thread compiles the same bytes; never anything else.
    assert.deepEqual(compiles.slice(1).filter((c) => c !== `sync ${parserBytes}`), []);
  });

  test("digest loads only the built-ins it uses", async () => {
    const preload = join(workDir, "report-builtins.cjs");
    await writeFile(preload, `process.on("exit", () => process.stderr.write("\\n" + JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)))));\n`);
    const { stdout, stderr } = await execFileAsync(process.execPath, ["--require", preload, join(repoRoot, "bin", "quayside.js"), "digest", env.anonymous.seeded.single.reference], {
      timeout: 30_000,
      env: { ...process.env, DOCKER_CONFIG: workDir },
    });
    assert.equal(stdout.trim(), env.anonymous.seeded.single.digest);
    const builtins = JSON.parse(stderr.split("\n").pop() ?? "[]") as string[];
    assert.ok(builtins.includes("net"), "the probe saw no module loads at all");
    // A plain-HTTP registry: TLS only for the probe, which needs none, and a HEAD, nothing to hash.
    // Then undici's node:http and node:assert, HTTP/2, progress bars (readline), tar, credential
    // helpers, fs/promises (config files are read with fs.readFile, stdin is not opened).
    for (const unneeded of ["tls", "crypto", "http", "http2", "assert", "readline", "child_process", "zlib", "fs/promises"]) {
      assert.ok(!builtins.includes(unneeded), `digest loaded node:${unneeded}`);
    }
  });
});

describe("a reader that stops early (quayside ... | head -1)", () => {
  test("a closed stdout ends the command quietly: no EPIPE stack trace", async () => {
    const { spawn } = await import("node:child_process");
    const bin = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/quayside.js");
    // --help is long enough to be written after the reader has gone.
    const child = spawn(process.execPath, [bin, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    // The reader is gone before quayside writes a byte, as `| head -1` can be.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolveExit) => child.on("exit", (status) => resolveExit(status)));
    assert.equal(stderr, "");
    assert.equal(code, 0);
  });
});
