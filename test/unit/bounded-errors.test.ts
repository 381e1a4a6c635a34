/**
 * An error is one line of at most a few hundred characters, whatever a server or the input sent:
 * a 3 MB media type, a 60 kB error message with newlines, a megabyte-long reference.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { bounded, ManifestError, MAX_MESSAGE_LENGTH, QuaysideError, quoted } from "../../src/errors.js";
import { parseManifest } from "../../src/media/manifest.js";
import { parseReference } from "../../src/ref/reference.js";
import { RegistryClient } from "../../src/registry/client.js";
import { sendError, startHostileServer, type HostileServer } from "../harness/hostile-server.js";
import { runCli } from "../integration/helpers.js";

const HUGE = 3 * 1024 * 1024;

/** A few hundred characters: MAX_MESSAGE_LENGTH, written out so that this fails without it too. */
const LONGEST = 500;

function assertOneShortLine(text: string): void {
  assert.ok(text.length <= LONGEST + "quayside: \n".length, `${text.length} characters: ${text.slice(0, 100)}...`);
  assert.ok(!text.trimEnd().includes("\n"), "one line");
}

function hugeMediaTypeManifest(): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: `application/${"x".repeat(HUGE)}`, config: {}, layers: [] }));
}

describe("bounded()", () => {
  it("keeps short text, cuts the middle of long text, and makes one line of it", () => {
    assert.equal(bounded("short"), "short");
    const long = `${"a".repeat(1000)}${"z".repeat(1000)}`;
    const cut = bounded(long, 100);
    assert.ok(cut.length <= 100, String(cut.length));
    assert.ok(cut.startsWith("aaa") && cut.endsWith("zzz") && cut.includes("1900 characters cut"), cut);
    assert.equal(bounded("one\ntwo\r\x1b[31m"), "one\\u000atwo\\u000d\\u001b[31m");
    assert.equal(quoted("x".repeat(500), 50).length <= 52, true);
    assert.equal(MAX_MESSAGE_LENGTH, LONGEST);
  });
});

describe("errors built from outside text stay short", () => {
  it("a manifest with a 3 MB media type", () => {
    try {
      parseManifest(hugeMediaTypeManifest());
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof ManifestError);
      assertOneShortLine(err.message);
    }
  });

  it("a megabyte-long reference", () => {
    try {
      parseReference(`localhost:5000/${"a/".repeat(500_000)}app:1`);
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof QuaysideError);
      assertOneShortLine(err.message);
    }
  });

  it("any QuaysideError, as the backstop", () => {
    assertOneShortLine(new QuaysideError("PROTOCOL_ERROR", `${"m".repeat(HUGE)}\nsecond line`).message);
  });
});

describe("errors from a hostile registry stay short", () => {
  let server: HostileServer;
  let client: RegistryClient;
  before(async () => {
    server = await startHostileServer((_req, res) => res.end());
    client = new RegistryClient(server.host, { dockerConfig: false, retry: { retries: 0 } });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it("a 60 kB error message with newlines, and a 60 kB error code", async () => {
    server.handle = (_req, res) => sendError(res, 400, "C".repeat(30_000), `bad\n${"m".repeat(30_000)}`);
    const err = await client.getManifest("team/app", "1").then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof QuaysideError);
    assertOneShortLine(err.message);
    assert.ok(err.code.length <= 64, `code of ${err.code.length} characters`);
  });

  it("a challenge whose realm is 10 kB of garbage", async () => {
    server.handle = (_req, res) => {
      res.writeHead(401, { "www-authenticate": `Bearer realm="${"r".repeat(10_000)}"`, "content-length": "0" });
      res.end();
    };
    const withCredentials = new RegistryClient(server.host, { dockerConfig: false, retry: { retries: 0 }, credentials: { kind: "basic", username: "u", password: "p" } });
    try {
      const err = await withCredentials.getManifest("team/app", "1").then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof QuaysideError);
      assertOneShortLine(err.message);
    } finally {
      await withCredentials.close();
    }
  });

  it("the CLI prints one short line for a manifest with a 3 MB media type", async () => {
    const manifest = hugeMediaTypeManifest();
    server.handle = (_req, res) => {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": String(manifest.length) });
      res.end(manifest);
    };
    const result = await runCli(["manifest", `${server.host}/team/app:1`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^quayside: invalid manifest: mediaType: body says "application\/x+ …\(\d+ characters cut\)… x+" but Content-Type says/);
    assertOneShortLine(result.stderr);
  });
});
