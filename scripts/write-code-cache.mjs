// Writes V8's code caches of the two CLI bundles (dist/cli.cjs.cache, dist/cli-lib.cjs.cache),
// made in a process that loads them exactly as bin/quayside.js does (same V8 flags, or V8 rejects
// a cache) and has run commands first, so that the functions they compiled are in the caches too:
// `--help` ones for the command line's bundle, and for the library's a `digest` and a `manifest`
// of an image on a stand-in registry on loopback (this process): the path of a one-shot read
// (the library's read path, the TLS probe, undici's client). Compiling those from source took a
// one-shot command 7 ms more; `--help` does not read the library's cache.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { BUNDLE, LIBRARY_BUNDLE, loadCli } from "../bin/load-cli.js";

// V8 accepts a cache made for another bundle of the same length: never start from an old one.
for (const bundle of [BUNDLE, LIBRARY_BUNDLE]) rmSync(`${bundle}.cache`, { force: true });
const { main, script, libraryScript } = loadCli();
const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
// No credentials file of this machine is read.
const nowhere = join(tmpdir(), `quayside-no-config-${process.pid}`);
const io = (stdout = sink()) => ({ stdin: Readable.from([]), stdout, stderr: sink(), env: { DOCKER_CONFIG: nowhere, REGISTRY_AUTH_FILE: join(nowhere, "auth.json") } });
const run = async (args) => {
  const code = await main(args, io());
  if (code !== 0) throw new Error(`write-code-cache: quayside ${args.join(" ")} exited ${code}`);
};

for (const args of [["--help"], ["copy", "--help"], ["manifest", "--help"]]) await run(args);

// bin/quayside.js answers --version from package.json without loading the bundle: they must agree.
let printed = "";
await main(["--version"], io(new Writable({ write: (chunk, _encoding, callback) => callback(void (printed += chunk)) })));
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
if (printed !== `${version}\n`) throw new Error(`write-code-cache: the CLI prints version ${JSON.stringify(printed)}, package.json says ${version}`);

// One image manifest, served as distribution serves it (the TLS probe gets an HTTP 400: plain).
const manifest = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"0".repeat(64)}`, size: 2 }, layers: [] }),
);
const registry = createServer((req, res) => {
  if (req.url !== "/v2/warm/up/manifests/v1") {
    res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    return;
  }
  res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": manifest.length, "docker-content-digest": `sha256:${createHash("sha256").update(manifest).digest("hex")}` });
  res.end(req.method === "HEAD" ? undefined : manifest);
});
await new Promise((resolve) => registry.listen(0, "127.0.0.1", resolve));
try {
  const reference = `127.0.0.1:${registry.address().port}/warm/up:v1`;
  await run(["digest", reference]);
  await run(["manifest", reference]);
} finally {
  registry.closeAllConnections();
  registry.close();
}

for (const [bundle, compiled] of [
  [BUNDLE, script],
  [LIBRARY_BUNDLE, libraryScript()],
]) {
  if (compiled === undefined) throw new Error(`write-code-cache: ${bundle} was never loaded`);
  const temporary = `${bundle}.cache.${process.pid}.tmp`;
  writeFileSync(temporary, compiled.createCachedData());
  renameSync(temporary, `${bundle}.cache`);
}
