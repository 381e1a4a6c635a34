/**
 * An error names what failed where it failed: the URL with the scheme actually used (http:// for
 * a plain-HTTP loopback registry, not the https:// tried before the scheme was known), and a blob
 * read that keeps dropping as a NetworkError about that blob, never a bare "SocketError: other side
 * closed". Hostile loopback servers: a real registry does neither.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetworkError, ProtocolError } from "../../src/errors.js";
import { RegistryClient } from "../../src/registry/client.js";
import { readAll } from "../../src/util/streams.js";
import { startHostileServer, type HostileServer } from "../harness/hostile-server.js";
import { collect, runCli } from "../integration/helpers.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("errors name what failed, as it was reached", () => {
  let server: HostileServer;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "quayside-where-"));
    server = await startHostileServer((req, res) => {
      if (req.url?.includes("/tags/list")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('"not an object"');
        return;
      }
      res.writeHead(200, { "content-length": "1000" });
      if (req.method === "HEAD") return res.end();
      // Every blob read: 100 bytes of 1000, then the connection drops.
      res.write(Buffer.alloc(100));
      setTimeout(() => res.destroy(), 10);
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a listing page from a plain-HTTP registry: its http:// URL", async () => {
    const client = new RegistryClient(server.host, { dockerConfig: false, retry: { retries: 0 } });
    try {
      const err = await collect(client.tags("team/app")).then(
        () => assert.fail("accepted"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.message, `${server.url}/v2/team/app/tags/list: listing is not a JSON object`);
    } finally {
      await client.close();
    }
  });

  it("a blob read that keeps dropping: a NetworkError about the blob, after the resumes", async () => {
    const client = new RegistryClient(server.host, { dockerConfig: false, retry: { retries: 0 } });
    try {
      const stream = await client.getBlob("team/app", DIGEST, { resumeAttempts: 2 });
      const err = await readAll(stream, 10_000, "blob").then(
        () => assert.fail("accepted"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NetworkError, String(err));
      assert.equal(err.message, `GET ${server.url}/v2/team/app/blobs/${DIGEST}: connection dropped at byte 100 after 2 resumes (UND_ERR_SOCKET: other side closed)`);
    } finally {
      await client.close();
    }
  });

  it("the CLI: one line about the blob, not a SocketError, and no file left", async () => {
    const file = join(dir, "blob.bin");
    const result = await runCli(["--quiet", "blob", "get", `${server.host}/team/app@${DIGEST}`, "-o", file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^quayside: GET ${server.url}/v2/team/app/blobs/${DIGEST}: connection dropped at byte 100 after 3 resumes \\(UND_ERR_SOCKET: other side closed\\)\\n$`));
    assert.deepEqual(await readdir(dir), []);
  });
});
