/**
 * What a person reads when something is not there or not allowed, against the real registries:
 * one line naming the image, the status said once, and for refused credentials how to give others.
 */
import * as assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { digestOf } from "../../src/digest/digest.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { runCli } from "./helpers.js";

let env: TestEnvironment;

before(async () => {
  env = await getTestEnvironment();
});

/** The one line the CLI printed, without its "quayside: " prefix. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.doesNotMatch(stderr, /HTTP (\d+) \(HTTP \1\)/, "status said twice");
  return (lines[0] ?? "").replace(/^quayside: /, "");
}

describe("not found, naming the image (HEAD answers carry no body)", () => {
  test("a tag: digest does a HEAD", async () => {
    const result = await runCli(["digest", `${env.anonymous.host}/test/single:nope`]);
    assert.equal(result.code, 3);
    assert.equal(oneLine(result.stderr), `manifest ${env.anonymous.host}/test/single:nope not found`);
  });

  test("a manifest by digest, with GET", async () => {
    const digest = digestOf("no such manifest");
    const result = await runCli(["manifest", `${env.anonymous.host}/test/single@${digest}`]);
    assert.equal(result.code, 3);
    assert.equal(oneLine(result.stderr), `manifest ${env.anonymous.host}/test/single@${digest} not found`);
  });

  test("a blob: blob size does a HEAD", async () => {
    const digest = digestOf("no such blob");
    const result = await runCli(["blob", "size", `${env.anonymous.host}/test/single@${digest}`]);
    assert.equal(result.code, 3);
    assert.equal(oneLine(result.stderr), `blob ${digest} not found in ${env.anonymous.host}/test/single`);
  });

  test("a repository", async () => {
    const result = await runCli(["tags", `${env.anonymous.host}/no/such-repo`]);
    assert.equal(result.code, 3);
    assert.equal(oneLine(result.stderr), `repository ${env.anonymous.host}/no/such-repo not found`);
  });
});

describe("not authorized, and refused credentials", () => {
  const hint = (host: string) => `log in with \`quayside login ${host}\`, or pass -u NAME --password-stdin`;

  test("no credentials for a private repository (token auth): what to do", async () => {
    const result = await runCli(["digest", `${env.token.host}/test/single:v1`]);
    assert.equal(result.code, 4);
    assert.equal(oneLine(result.stderr), `not authorized to pull ${env.token.host}/test/single: no credentials for ${env.token.host}; ${hint(env.token.host)}`);
  });

  test("a wrong password at a basic-auth registry: refused by HOST, and how to give others", async () => {
    const result = await runCli(["-u", env.basic.username, "--password-stdin", "--ca-file", env.basic.caFile, "digest", `${env.basic.host}/test/single:v1`], { stdin: "wrong\n" });
    assert.equal(result.code, 4);
    assert.equal(oneLine(result.stderr), `${env.basic.host} refused the credentials given for it; ${hint(env.basic.host)}`);
  });

  test("a wrong password at a token-auth registry: refused by its token server", async () => {
    const { username } = env.token.users.reader;
    const result = await runCli(["-u", username, "--password-stdin", "digest", `${env.token.host}/test/single:v1`], { stdin: "wrong\n" });
    assert.equal(result.code, 4);
    const tokenHost = new URL(env.token.tokenServer.realm).host;
    assert.equal(oneLine(result.stderr), `the token server of ${env.token.host} (${tokenHost}) refused the credentials given for it; ${hint(env.token.host)}`);
  });

  test("good credentials without the permission: says which action on which repository", async () => {
    const { username, password } = env.token.users.reader;
    const result = await runCli(["-u", username, "--password-stdin", "tag", `${env.token.host}/test/single:v1`, "reader-may-not"], { stdin: `${password}\n` });
    assert.equal(result.code, 4);
    assert.equal(oneLine(result.stderr), `not authorized to push to ${env.token.host}/test/single with the credentials given for ${env.token.host}`);
  });
});
