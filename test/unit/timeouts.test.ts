/**
 * Stalls are noticed after the idle timeout (timeoutMs; the CLI's --timeout) instead of minutes,
 * small answers must come whole within twice that, and every retry of a stall is said. Servers that
 * stop sending are not what a real registry does: small loopback servers here. Each test bounds its
 * own wait (a signal), so that a client without these timeouts fails instead of hanging.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { digestOf } from "../../src/digest/digest.js";
import { NetworkError } from "../../src/errors.js";
import { HttpClient, type RetryNotice } from "../../src/http/transport.js";
import { RegistryClient } from "../../src/registry/client.js";
import { readAll } from "../../src/util/streams.js";
import { startHostileServer, type HostileServer } from "../harness/hostile-server.js";
import { runCli } from "../integration/helpers.js";

const TIMEOUT_MS = 300;
/** What any one test may take: far less than undici's old 60 s / 300 s. */
const BOUND_MS = 8_000;
const FAST_RETRY = { retries: 3, baseDelayMs: 10, maxDelayMs: 100 };

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf("{}"), size: 2 }, layers: [] }));

function sendManifest(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": String(MANIFEST.length), "docker-content-digest": digestOf(MANIFEST) });
  res.end(MANIFEST);
}

/** Hold the request: no answer, ever (the server's sockets are destroyed at close). */
const stall = (_req: IncomingMessage, _res: ServerResponse): void => undefined;

describe("idle timeout and deadlines", () => {
  let server: HostileServer;
  const notices: RetryNotice[] = [];
  const clients: Array<HttpClient | RegistryClient> = [];
  const registryClient = (): RegistryClient => {
    const c = new RegistryClient(server.host, { dockerConfig: false, timeoutMs: TIMEOUT_MS, retry: FAST_RETRY, onRetry: (n) => notices.push(n) });
    clients.push(c);
    return c;
  };
  /** The first `count` requests get `fault`, the rest `then`. */
  const faultFirst = (count: number, fault: HostileServer["handle"], then: HostileServer["handle"]): void => {
    let seen = 0;
    server.handle = (req, res) => (seen++ < count ? fault(req, res) : then(req, res));
  };

  before(async () => {
    server = await startHostileServer(stall);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it("defaults to 30 s", async () => {
    const http = new HttpClient();
    clients.push(http);
    assert.equal(http.timeoutMs, 30_000);
  });

  it("no answer: retried after the timeout, and said", async () => {
    notices.length = 0;
    faultFirst(1, stall, sendManifest);
    const http = new HttpClient({ timeoutMs: TIMEOUT_MS, retry: FAST_RETRY, onRetry: (n) => notices.push(n) });
    clients.push(http);
    const started = Date.now();
    const response = await http.request({ method: "GET", url: `${server.url}/v2/`, signal: AbortSignal.timeout(BOUND_MS) });
    await response.dump();
    assert.equal(response.status, 200);
    assert.ok(Date.now() - started >= TIMEOUT_MS);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]?.reason, "stalled");
    assert.equal(notices[0]?.message, `GET ${server.url}/v2/ stalled 0.3 s; retrying (2 of 4)`);
  });

  it("a small answer whose body stops half way: retried as a whole", async () => {
    notices.length = 0;
    faultFirst(
      1,
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": String(MANIFEST.length) });
        res.write(MANIFEST.subarray(0, 10));
      },
      sendManifest,
    );
    const manifest = await registryClient().getManifest("team/app", "1", { signal: AbortSignal.timeout(BOUND_MS) });
    assert.equal(manifest.digest, digestOf(MANIFEST));
    assert.deepEqual(
      notices.map((n) => n.reason),
      ["stalled"],
    );
  });

  it("a small answer dripping a byte at a time: the deadline (twice the timeout) cuts it, then a clear error", async () => {
    notices.length = 0;
    const timers: NodeJS.Timeout[] = [];
    server.handle = (_req, res) => {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": String(MANIFEST.length) });
      let sent = 0;
      const drip = setInterval(() => {
        if (res.destroyed || sent >= MANIFEST.length) return clearInterval(drip);
        res.write(MANIFEST.subarray(sent, ++sent));
      }, TIMEOUT_MS / 3);
      timers.push(drip);
    };
    const client = new RegistryClient(server.host, { dockerConfig: false, timeoutMs: TIMEOUT_MS, retry: { retries: 1, baseDelayMs: 10 }, onRetry: (n) => notices.push(n) });
    clients.push(client);
    const started = Date.now();
    const err = await client.getManifest("team/app", "1", { signal: AbortSignal.timeout(BOUND_MS) }).then(
      () => assert.fail("a dripping answer was accepted"),
      (e: unknown) => e,
    );
    timers.forEach(clearInterval);
    assert.ok(err instanceof NetworkError, String(err));
    assert.equal(err.code, "TIMEOUT");
    assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/team\/app\/manifests\/1 took more than 0\.6 s: the server stopped answering \(see --timeout\)$/);
    assert.equal(notices.length, 1);
    assert.match(notices[0]?.message ?? "", /manifests\/1 took more than 0\.6 s; retrying \(2 of 2\)$/);
    const took = Date.now() - started;
    assert.ok(took < 4 * TIMEOUT_MS + 1_000, `${took} ms`);
  });

  it("a blob download that stalls half way: resumed from where it stopped, and said", async () => {
    notices.length = 0;
    const blob = randomBytes(64 * 1024);
    const digest = digestOf(blob);
    faultFirst(
      1,
      (_req, res) => {
        res.writeHead(200, { "content-length": String(blob.length) });
        res.write(blob.subarray(0, 1000));
      },
      (req, res) => {
        const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
        res.writeHead(start > 0 ? 206 : 200, { "content-length": String(blob.length - start), ...(start > 0 ? { "content-range": `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}) });
        res.end(blob.subarray(start));
      },
    );
    const stream = await registryClient().getBlob("team/app", digest, { signal: AbortSignal.timeout(BOUND_MS) });
    const bytes = await readAll(stream, blob.length, "blob");
    assert.equal(digestOf(bytes), digest);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]?.reason, "stalled");
    assert.match(notices[0]?.message ?? "", new RegExp(`^GET ${server.url}/v2/team/app/blobs/${digest} stalled 0\\.3 s at byte 1000; retrying \\(2 of 4\\)$`));
  });

  it("the CLI: --timeout SECONDS, one line per retry on stderr, none with --quiet", async () => {
    faultFirst(1, stall, sendManifest);
    const said = await runCli(["--timeout", "0.3", "digest", `${server.host}/team/app:1`]);
    assert.equal(said.code, 0, said.stderr);
    // digest sends a HEAD, a small request: undici's idle timer (about half a second coarse) or the deadline fires first.
    assert.match(said.stderr, new RegExp(`^quayside: HEAD ${server.url}/v2/team/app/manifests/1 (stalled 0\\.3 s|took more than 0\\.6 s); retrying \\(2 of 4\\)\n$`));
    faultFirst(1, stall, sendManifest);
    const quiet = await runCli(["--quiet", "--timeout", "0.3", "digest", `${server.host}/team/app:1`]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, "");
    const bad = await runCli(["--timeout", "soon", "digest", `${server.host}/team/app:1`]);
    assert.equal(bad.code, 2);
  });
});
