import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { DockerConfigCredentials, dockerConfigPath, normalizeConfigKey, type Credential } from "../../src/auth/credentials.js";
import { AuthenticationError } from "../../src/errors.js";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

let dir: string;
let counter = 0;

/** Writes a config.json into its own fresh directory and returns a source reading it. */
async function configWith(config: unknown): Promise<DockerConfigCredentials> {
  const path = join(dir, `config-${++counter}.json`);
  await writeFile(path, typeof config === "string" ? config : JSON.stringify(config));
  return new DockerConfigCredentials(path, 5_000);
}

async function expectAuthError(promise: Promise<unknown>, code: string): Promise<AuthenticationError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof AuthenticationError, String(caught));
  assert.equal(caught.code, code);
  assert.equal(caught.category, "unauthorized");
  return caught;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "quayside-creds-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("dockerConfigPath", () => {
  it("honours DOCKER_CONFIG", () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: "/etc/somewhere" }), join("/etc/somewhere", "config.json"));
  });

  it("defaults to ~/.docker/config.json", () => {
    assert.equal(dockerConfigPath({}), join(homedir(), ".docker", "config.json"));
  });
});

describe("normalizeConfigKey", () => {
  it("reduces URLs and hosts to host[:port], Docker Hub's spellings to docker.io", () => {
    assert.equal(normalizeConfigKey("https://Host.Example:5000/v1/"), "host.example:5000");
    assert.equal(normalizeConfigKey("http://host:5000"), "host:5000");
    assert.equal(normalizeConfigKey("host:5000"), "host:5000");
    assert.equal(normalizeConfigKey("https://index.docker.io/v1/"), "docker.io");
    assert.equal(normalizeConfigKey("registry-1.docker.io"), "docker.io");
  });
});

describe("DockerConfigCredentials: auths", () => {
  it("decodes a base64 auth field, keeping colons in the password", async () => {
    const source = await configWith({ auths: { "reg.example": { auth: b64("alice:pa:ss") } } });
    assert.deepEqual(await source.get("reg.example"), { kind: "basic", username: "alice", password: "pa:ss" });
  });

  it("reads username/password fields", async () => {
    const source = await configWith({ auths: { "reg.example": { username: "u", password: "p" } } });
    assert.deepEqual(await source.get("reg.example"), { kind: "basic", username: "u", password: "p" });
  });

  it("prefers an identitytoken", async () => {
    const source = await configWith({ auths: { "reg.example": { auth: b64("u:p"), identitytoken: "refresh-123" } } });
    const credential = await source.get("reg.example");
    assert.equal(credential?.kind, "identity-token");
    assert.equal(credential.kind === "identity-token" ? credential.token : "", "refresh-123");
  });

  it("sends a registrytoken as a ready bearer header", async () => {
    const source = await configWith({ auths: { "reg.example": { registrytoken: "ready-made" } } });
    assert.deepEqual(await source.get("reg.example"), { kind: "authorization", header: "Bearer ready-made" });
  });

  it("matches URL-style and host:port keys to the registry host", async () => {
    const source = await configWith({
      auths: {
        "https://host:5000/v1/": { auth: b64("url:form") },
        "other:6000": { auth: b64("plain:form") },
      },
    });
    assert.deepEqual(await source.get("host:5000"), { kind: "basic", username: "url", password: "form" });
    assert.deepEqual(await source.get("other:6000"), { kind: "basic", username: "plain", password: "form" });
    assert.equal(await source.get("host"), undefined, "a different port is a different registry");
    assert.equal(await source.get("host:5001"), undefined);
  });

  it("matches Docker Hub's legacy key to registry docker.io", async () => {
    const source = await configWith({ auths: { "https://index.docker.io/v1/": { auth: b64("hubuser:hubpass") } } });
    assert.deepEqual(await source.get("docker.io"), { kind: "basic", username: "hubuser", password: "hubpass" });
    assert.equal(await source.get("quay.io"), undefined);
  });

  it("returns undefined for an unknown registry and for an empty entry", async () => {
    const source = await configWith({ auths: { "reg.example": {} } });
    assert.equal(await source.get("reg.example"), undefined);
    assert.equal(await source.get("nowhere.example"), undefined);
  });

  it("returns undefined when the file does not exist", async () => {
    const source = new DockerConfigCredentials(join(dir, "no-such-dir", "config.json"));
    assert.equal(await source.get("reg.example"), undefined);
  });

  it("rejects invalid JSON with AuthenticationError", async () => {
    const source = await configWith("{ not json");
    const err = await expectAuthError(source.get("reg.example"), "INVALID_DOCKER_CONFIG");
    assert.match(err.message, /not valid JSON/);
  });

  it("rejects an auth field that is not base64 of user:password, without echoing it", async () => {
    const source = await configWith({ auths: { "reg.example": { auth: b64("nocolonhere") } } });
    const err = await expectAuthError(source.get("reg.example"), "INVALID_DOCKER_CONFIG");
    assert.doesNotMatch(err.message, new RegExp(b64("nocolonhere")));
    const garbage = await configWith({ auths: { "reg.example": { auth: "%%%%" } } });
    await expectAuthError(garbage.get("reg.example"), "INVALID_DOCKER_CONFIG");
  });
});

describe("DockerConfigCredentials: credential helpers", () => {
  let binDir: string;
  let logPath: string;
  let savedPath: string | undefined;

  before(async () => {
    binDir = join(dir, "bin");
    logPath = join(dir, "helper.log");
    await writeFile(logPath, "");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(binDir);
    const script = `#!/bin/sh
read -r server || true
echo "$1 $server" >> '${logPath}'
case "$server" in
  helper.example) printf '{"ServerURL":"%s","Username":"helperuser","Secret":"helpersecret"}' "$server" ;;
  store.example:5000) printf '{"Username":"storeuser","Secret":"storesecret"}' ;;
  https://index.docker.io/v1/) printf '{"Username":"hubuser","Secret":"hubsecret"}' ;;
  token.example) printf '{"Username":"<token>","Secret":"identity-abc"}' ;;
  broken.example) echo "keychain locked" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
    const helper = join(binDir, "docker-credential-testhelper");
    await writeFile(helper, script);
    await chmod(helper, 0o755);
    // A helper that answers without reading stdin (the write of the server URL then meets a closed pipe).
    const noRead = join(binDir, "docker-credential-testnoread");
    await writeFile(noRead, `#!/bin/sh\nprintf '{"Username":"quick","Secret":"answer"}'\n`);
    await chmod(noRead, 0o755);
    savedPath = process.env["PATH"];
    process.env["PATH"] = `${binDir}${delimiter}${savedPath ?? ""}`;
  });

  after(() => {
    if (savedPath === undefined) delete process.env["PATH"];
    else process.env["PATH"] = savedPath;
  });

  const helperLog = async () => (await readFile(logPath, "utf8")).split("\n").filter((l) => l !== "");

  it("asks the per-registry helper with `get` and the server URL on stdin", async () => {
    const before = (await helperLog()).length;
    const source = await configWith({
      credHelpers: { "helper.example": "testhelper" },
      auths: { "helper.example": { auth: b64("fromauths:ignored") } },
    });
    assert.deepEqual(await source.get("helper.example"), { kind: "basic", username: "helperuser", password: "helpersecret" });
    assert.deepEqual((await helperLog()).slice(before), ["get helper.example"]);
  });

  it("uses credsStore as the default for registries without a helper or auths entry", async () => {
    const source = await configWith({
      credsStore: "testhelper",
      auths: { "store.example:5000": {}, "direct.example": { auth: b64("direct:pw") } },
    });
    assert.deepEqual(await source.get("store.example:5000"), { kind: "basic", username: "storeuser", password: "storesecret" });
    // An auths entry with credentials wins over the store.
    assert.deepEqual(await source.get("direct.example"), { kind: "basic", username: "direct", password: "pw" });
  });

  it("passes Docker Hub's legacy server URL for docker.io", async () => {
    const before = (await helperLog()).length;
    const source = await configWith({ credHelpers: { "docker.io": "testhelper" } });
    assert.deepEqual(await source.get("docker.io"), { kind: "basic", username: "hubuser", password: "hubsecret" });
    assert.deepEqual((await helperLog()).slice(before), ["get https://index.docker.io/v1/"]);
  });

  it("finds a helper registered under Docker Hub's legacy key", async () => {
    const source = await configWith({ credHelpers: { "https://index.docker.io/v1/": "testhelper" } });
    assert.deepEqual(await source.get("docker.io"), { kind: "basic", username: "hubuser", password: "hubsecret" });
  });

  it("matches credHelpers keys written as URLs, like auths keys", async () => {
    const source = await configWith({ credHelpers: { "https://helper.example/v1/": "testhelper" } });
    assert.deepEqual(await source.get("helper.example"), { kind: "basic", username: "helperuser", password: "helpersecret" });
  });

  it("reads the username <token> as an identity token", async () => {
    const source = await configWith({ credHelpers: { "token.example": "testhelper" } });
    const credential: Credential | undefined = await source.get("token.example");
    assert.deepEqual(credential, { kind: "identity-token", token: "identity-abc" });
  });

  it("treats 'credentials not found' as no credentials", async () => {
    const source = await configWith({ credHelpers: { "unknown.example": "testhelper" } });
    assert.equal(await source.get("unknown.example"), undefined);
  });

  it("survives a helper that exits without reading stdin", async () => {
    const source = await configWith({ credsStore: "testnoread" });
    // Several rounds: the closed-pipe race is not hit every time.
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(await new DockerConfigCredentials(source.path, 5_000).get(`r${i}.example`), {
        kind: "basic",
        username: "quick",
        password: "answer",
      });
    }
  });

  it("reports a failing helper as AuthenticationError CREDENTIAL_HELPER", async () => {
    const source = await configWith({ credHelpers: { "broken.example": "testhelper" } });
    const err = await expectAuthError(source.get("broken.example"), "CREDENTIAL_HELPER");
    assert.match(err.message, /keychain locked/);
  });

  it("reports a missing helper as AuthenticationError CREDENTIAL_HELPER", async () => {
    const source = await configWith({ credHelpers: { "helper.example": "quayside-no-such-helper" } });
    const err = await expectAuthError(source.get("helper.example"), "CREDENTIAL_HELPER");
    assert.match(err.message, /docker-credential-quayside-no-such-helper/);
    assert.match(err.message, /not installed/);
  });

  it("reports a missing credsStore helper the same way", async () => {
    const source = await configWith({ credsStore: "quayside-no-such-store" });
    await expectAuthError(source.get("any.example"), "CREDENTIAL_HELPER");
  });
});
