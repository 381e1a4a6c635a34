/**
 * The quick start's main job: a throwaway local registry (the real CNCF distribution registry
 * on loopback), a small multi-arch image built from files and pushed into it, and quayside's
 * read commands run against it, as a new user would type them. Nothing is left running.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeOciLayout } from "../test/harness/oci-layout.js";
import { startRegistry, type RunningRegistry } from "../test/harness/registry.js";
import { skopeoDigest } from "../test/harness/skopeo.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "bin", "quayside.js");

interface Ran {
  code: number;
  stdout: string;
}

/** Runs the real binary and echoes the command and its output, as a terminal would show it. */
async function quayside(args: readonly string[], options: { maxChars?: number } = {}): Promise<Ran> {
  process.stdout.write(`\n$ quayside ${args.join(" ")}\n`);
  const result = await new Promise<Ran & { stderr: string }>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
  const max = options.maxChars ?? Infinity;
  const shown = result.stdout.length > max ? `${result.stdout.slice(0, max)}... (${result.stdout.length} bytes)\n` : result.stdout;
  process.stdout.write(shown.endsWith("\n") || shown === "" ? shown : `${shown}\n`);
  if (result.stderr) process.stdout.write(result.stderr);
  if (result.code !== 0) throw new Error(`quayside ${args.join(" ")} exited with ${result.code}`);
  return result;
}

export async function runDemo(): Promise<number> {
  const workDir = await mkdtemp(join(tmpdir(), "quayside-demo-"));
  let registry: RunningRegistry | undefined;
  try {
    console.log("Starting a throwaway registry (docker-registry on loopback) ...");
    registry = await startRegistry({ mode: "anonymous" });
    const host = registry.host;
    console.log(`Registry at ${registry.url}`);

    console.log("Building a small multi-arch image (linux/amd64, linux/arm64/v8, linux/arm/v7) as an OCI layout on disk ...");
    const layoutDir = join(workDir, "layout");
    const [image] = await writeOciLayout(layoutDir, {
      images: [
        {
          tag: "1.0",
          platforms: [
            { os: "linux", architecture: "amd64", layers: 2 },
            { os: "linux", architecture: "arm64", variant: "v8" },
            { os: "linux", architecture: "arm", variant: "v7" },
          ],
        },
      ],
    });
    const target = { host, url: registry.url };
    const ref = `${host}/demo/hello:1.0`;
    await quayside(["copy", "--progress", "plain", `oci:${layoutDir}:1.0`, ref]);
    await quayside(["ping", host]);
    await quayside(["tags", `${host}/demo/hello`]);
    await quayside(["inspect", ref]);
    await quayside(["--platform", "linux/arm64", "inspect", ref]);
    const digest = (await quayside(["digest", ref])).stdout.trim();
    await quayside(["--json", "--platform", "linux/arm/v7", "digest", ref]);
    await quayside(["manifest", ref], { maxChars: 240 });
    await quayside(["--platform", "linux/amd64", "config", ref], { maxChars: 240 });
    const layer = image?.manifests[0]?.layers[0];
    if (layer) {
      await quayside(["blob", "size", `${host}/demo/hello@${layer.digest}`]);
      await quayside(["blob", "get", `${host}/demo/hello@${layer.digest}`, "-o", join(workDir, "layer.tar.gz")]);
      console.log("(digest verified on the way; the file goes with the demo's temp dir)");
    }

    console.log("\nWriting: retag, copy to a second repository (blobs mounted, not re-sent), export to a docker archive.");
    await quayside(["tag", ref, "stable"]);
    await quayside(["tag", ref, "old"]);
    await quayside(["untag", `${host}/demo/hello:old`]);
    await quayside(["tags", `${host}/demo/hello`]);
    await quayside(["copy", "--progress", "none", ref, `${host}/team/hello:1.0`]);
    await quayside(["catalog", host]);
    await quayside(["check", `${host}/team/hello:1.0`]);
    const archive = join(workDir, "hello-amd64.tar");
    await quayside(["--platform", "linux/amd64", "copy", "--progress", "none", ref, `docker-archive:${archive}:demo/hello:1.0`]);
    await quayside(["copy", "--progress", "none", `docker-archive:${archive}:demo/hello:1.0`, `${host}/from-archive/hello:1.0`]);
    console.log("(a docker archive keeps the config and the exact layer blobs, not the manifest: the image comes back as a Docker schema 2 manifest)");

    const skopeoSays = await skopeoDigest(target, "demo/hello:1.0");
    console.log(`\nskopeo inspect says ${skopeoSays}: ${skopeoSays === digest ? "same digest as quayside" : "DIFFERENT from quayside!"}`);
    console.log(`(the image went in with quayside copy from oci:${layoutDir}:1.0; skopeo reads what quayside wrote)`);
    console.log("\nDemo done; stopping the registry and removing its storage.");
    return skopeoSays === digest ? 0 : 1;
  } catch (err) {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await registry?.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}
