/**
 * Where credentials come from, as skopeo and podman look (issue 10): an explicit credential beats
 * every file; an auth file named explicitly is the only one read; otherwise containers' auth.json
 * ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then
 * ~/.config/containers/auth.json), then Docker's config.json with its credential helpers.
 * Real files in a temporary tree, and a real docker-credential-<name> helper on PATH.
 */
import * as assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { containersAuthPaths, defaultAuthFiles, resolveCredentials } from "../../src/auth/sources.js";

const b64 = (text: string): string => Buffer.from(text).toString("base64");
const basic = (username: string, password: string) => ({ kind: "basic" as const, username, password });

let root: string;
let env: NodeJS.ProcessEnv;
let savedPath: string | undefined;

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "quayside-sources-"));
  const home = join(root, "home");
  env = { HOME: home, XDG_RUNTIME_DIR: join(root, "run"), DOCKER_CONFIG: join(root, "docker") };
  // Each registry is known to a different file; "everywhere.example" to all of them.
  await writeJson(join(root, "run", "containers", "auth.json"), {
    auths: { "runtime.example": { auth: b64("runtime:r") }, "everywhere.example": { auth: b64("from-runtime:1") } },
  });
  await writeJson(join(home, ".config", "containers", "auth.json"), {
    auths: { "home.example": { auth: b64("home:h") }, "everywhere.example": { auth: b64("from-home:2") } },
  });
  await writeJson(join(root, "docker", "config.json"), {
    auths: { "docker.example": { auth: b64("docker:d") }, "everywhere.example": { auth: b64("from-docker:3") } },
    credHelpers: { "helper.example": "quaysidesources" },
  });
  await writeJson(join(root, "explicit.json"), { auths: { "everywhere.example": { auth: b64("from-explicit:4") } } });

  const bin = join(root, "bin");
  await mkdir(bin);
  const helper = join(bin, "docker-credential-quaysidesources");
  await writeFile(helper, `#!/bin/sh\nread -r server\n[ "$1 $server" = "get helper.example" ] || { echo "credentials not found"; exit 1; }\nprintf '{"Username":"helped","Secret":"s3cret"}'\n`);
  await chmod(helper, 0o755);
  savedPath = process.env["PATH"];
  process.env["PATH"] = `${bin}${delimiter}${savedPath ?? ""}`;
});

after(async () => {
  if (savedPath === undefined) delete process.env["PATH"];
  else process.env["PATH"] = savedPath;
  await rm(root, { recursive: true, force: true });
});

describe("the files looked at, in order", () => {
  it("containers' runtime file, its home file, then Docker's config.json", () => {
    assert.deepEqual(defaultAuthFiles(env), [
      join(root, "run", "containers", "auth.json"),
      join(root, "home", ".config", "containers", "auth.json"),
      join(root, "docker", "config.json"),
    ]);
  });

  it("$REGISTRY_AUTH_FILE replaces both containers files, not Docker's", () => {
    const withFile = { ...env, REGISTRY_AUTH_FILE: join(root, "explicit.json") };
    assert.deepEqual(containersAuthPaths(withFile), [join(root, "explicit.json")]);
    assert.deepEqual(defaultAuthFiles(withFile), [join(root, "explicit.json"), join(root, "docker", "config.json")]);
  });

  it("without $XDG_RUNTIME_DIR: the home file only", () => {
    assert.deepEqual(containersAuthPaths({ HOME: env["HOME"] }), [join(root, "home", ".config", "containers", "auth.json")]);
  });
});

describe("resolveCredentials", () => {
  it("the first file that knows the registry answers; Docker's helpers are asked in turn", async () => {
    const source = resolveCredentials({ env });
    assert.ok(source);
    assert.deepEqual(await source.get("everywhere.example"), basic("from-runtime", "1"));
    assert.deepEqual(await source.get("runtime.example"), basic("runtime", "r"));
    assert.deepEqual(await source.get("home.example"), basic("home", "h"));
    assert.deepEqual(await source.get("docker.example"), basic("docker", "d"));
    assert.deepEqual(await source.get("helper.example"), basic("helped", "s3cret"));
    assert.equal(await source.get("nowhere.example"), undefined);
  });

  it("with $REGISTRY_AUTH_FILE: that file first, Docker's config.json after it, the other containers files never", async () => {
    const source = resolveCredentials({ env: { ...env, REGISTRY_AUTH_FILE: join(root, "explicit.json") } });
    assert.ok(source);
    assert.deepEqual(await source.get("everywhere.example"), basic("from-explicit", "4"));
    assert.equal(await source.get("runtime.example"), undefined);
    assert.equal(await source.get("home.example"), undefined);
    assert.deepEqual(await source.get("docker.example"), basic("docker", "d"));
  });

  it("an auth file named explicitly is the only file read", async () => {
    const source = resolveCredentials({ env, authFile: join(root, "explicit.json") });
    assert.ok(source);
    assert.deepEqual(await source.get("everywhere.example"), basic("from-explicit", "4"));
    assert.equal(await source.get("docker.example"), undefined);
  });

  it("an explicit credential beats every file", async () => {
    const source = resolveCredentials({ env, authFile: join(root, "explicit.json"), credentials: basic("given", "g") });
    assert.ok(source);
    assert.deepEqual(await source.get("everywhere.example"), basic("given", "g"));
  });

  it("configFiles: false is anonymous", () => {
    assert.equal(resolveCredentials({ env, configFiles: false }), undefined);
  });
});
