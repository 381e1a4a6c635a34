/**
 * Bodies read whole are capped: a hostile endless (or 100 MB) listing page, token response or
 * error body ends in a typed TOO_LARGE error, fast, after reading about the cap and no more;
 * a legitimate page of 1,000,000 tags (about 22 MB) is listed in full.
 */
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { ProtocolError, RegistryError } from "../../src/errors.js";
import { RegistryClient } from "../../src/registry/client.js";
import { startHostileServer, type HostileServer } from "../harness/hostile-server.js";
import { collect, runCli } from "../integration/helpers.js";

/** The listing cap (LISTING_PAGE_LIMIT), written out so that this fails without it. */
const PAGE_CAP = 32 * 1024 * 1024;
/** What an endless body sends at most, so that a client without a cap still ends (and fails the test). */
const ENDLESS_STOPS_AT = 256 * 1024 * 1024;

interface Sent {
  bytes: number;
}

/** A JSON body that never ends (up to ENDLESS_STOPS_AT): `prefix` then `item` forever; counts what was written. */
function sendEndless(res: ServerResponse, prefix: string, item: string, sent: Sent, status = 200): void {
  res.writeHead(status, { "content-type": "application/json" });
  const chunk = Buffer.from(item.repeat(Math.ceil(65536 / item.length)));
  res.write(prefix);
  sent.bytes = prefix.length;
  const pump = (): void => {
    while (!res.destroyed && sent.bytes < ENDLESS_STOPS_AT) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
    if (!res.destroyed) res.end("]}");
  };
  pump();
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected a failure"),
    (err: unknown) => err,
  );
}

describe("bodies read whole are capped", () => {
  let server: HostileServer;
  let client: RegistryClient;
  before(async () => {
    server = await startHostileServer((_req, res) => res.end());
  });
  // A client per test: what one learns (a token challenge) must not change the next.
  beforeEach(() => {
    client = new RegistryClient(server.host, { dockerConfig: false, retry: { retries: 0 } });
  });
  afterEach(() => client.close());
  after(() => server.close());

  it("an endless tags page: TOO_LARGE after reading about the cap, in seconds", async () => {
    const sent: Sent = { bytes: 0 };
    server.handle = (_req, res) => sendEndless(res, '{"name":"team/app","tags":[', '"0123456789abcdef",', sent);
    const started = Date.now();
    const err = await failure(collect(client.tags("team/app")));
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(err.code, "TOO_LARGE");
    assert.match(err.message, /tags\/list: response body is larger than 32 MiB; not reading more$/);
    assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`);
    // What the server got rid of before the client hung up: the cap plus socket buffers, not the whole page.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(sent.bytes < PAGE_CAP + 16 * 1024 * 1024, `server wrote ${sent.bytes} bytes`);
  });

  it("a 100 MB page with its Content-Length: TOO_LARGE", async () => {
    const tag = '"0123456789abcdef",';
    const count = Math.floor((100 * 1024 * 1024) / tag.length);
    const body = Buffer.from(`{"name":"team/app","tags":[${tag.repeat(count)}"last"]}`);
    server.handle = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    };
    const err = await failure(collect(client.catalog()));
    assert.ok(err instanceof ProtocolError && err.code === "TOO_LARGE", String(err));
  });

  it("a page of 1,000,000 tags (about 22 MB) is listed in full", async () => {
    const tagAt = (i: number) => `v1.0.0-build${String(i).padStart(7, "0")}`;
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(`"${tagAt(i)}"`);
    const body = Buffer.from(`{"name":"team/app","tags":[${parts.join(",")}]}`);
    parts.length = 0;
    assert.ok(body.length > 20_000_000 && body.length < PAGE_CAP, String(body.length));
    server.handle = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    };
    let count = 0;
    for await (const tag of client.tags("team/app")) {
      if (count === 0 || count === 999_999) assert.equal(tag, tagAt(count));
      count++;
    }
    assert.equal(count, 1_000_000);
  });

  it("an endless token response: TOO_LARGE", async () => {
    const sent: Sent = { bytes: 0 };
    server.handle = (req, res) => {
      if (req.url?.startsWith("/token")) return sendEndless(res, '{"token":"', "aaaaaaaaaaaaaaaa", sent);
      res.writeHead(401, { "www-authenticate": `Bearer realm="${server.url}/token",service="test"`, "content-length": "0" });
      res.end();
    };
    const err = await failure(client.getManifest("team/app", "1"));
    assert.ok(err instanceof ProtocolError && err.code === "TOO_LARGE", String(err));
    assert.ok(sent.bytes < ENDLESS_STOPS_AT / 4, `server wrote ${sent.bytes} bytes`);
  });

  it("an endless error body: the error, from what fit", async () => {
    const sent: Sent = { bytes: 0 };
    server.handle = (_req, res) => sendEndless(res, '{"errors":[', '{"code":"X","message":"y"},', sent, 500);
    const err = await failure(client.getManifest("team/app", "1"));
    assert.ok(err instanceof RegistryError && err.status === 500, String(err));
    assert.ok(sent.bytes < ENDLESS_STOPS_AT / 4, `server wrote ${sent.bytes} bytes`);
  });

  it("the CLI: one line saying the page is too large, exit 1", async () => {
    const sent: Sent = { bytes: 0 };
    server.handle = (_req, res) => sendEndless(res, '{"name":"team/app","tags":[', '"0123456789abcdef",', sent);
    const result = await runCli(["tags", `${server.host}/team/app`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^quayside: GET http:\/\/127\.0\.0\.1:\d+\/v2\/team\/app\/tags\/list: response body is larger than 32 MiB; not reading more\n$/);
  });
});
