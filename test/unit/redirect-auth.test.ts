/**
 * A blob GET redirected to another origin (a CDN) that answers 401: its challenge is not the
 * registry's. Four loopback servers on their own ports (so, their own origins): the registry, its
 * token server, the "CDN", and a trap that a CDN's bearer challenge names as its realm. Neither
 * the CDN nor the trap may ever see the user's credentials, and the registry's own challenge
 * (and token) must survive.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { digestOf } from "../../src/digest/digest.js";
import { InsecureRequestError } from "../../src/errors.js";
import { RegistryClient } from "../../src/registry/client.js";

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
}

interface Fake {
  origin: string;
  host: string;
  requests: Recorded[];
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

async function startFake(): Promise<Fake> {
  const fake: Fake = {
    origin: "",
    host: "",
    requests: [],
    handle: (_req, res) => {
      res.writeHead(500);
      res.end();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    fake.requests.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    req.resume();
    fake.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.origin = `http://${fake.host}`;
  return fake;
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}, body = ""): void {
  res.writeHead(status, { "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const USER = { username: "alice", password: "s3cret-password" };
const BASIC = `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString("base64")}`;
const TOKEN = "registry-token";
const BLOB = Buffer.from("the blob's bytes, served by the CDN");
const DIGEST = digestOf(BLOB);

function newClient(): RegistryClient {
  return new RegistryClient(registryHost, { plainHttp: true, dockerConfig: false, credentials: { kind: "basic", ...USER }, retry: { retries: 0 } });
}
let registryHost = "";

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("a blob redirected to a CDN that asks for authentication", () => {
  let registry: Fake;
  let auth: Fake;
  let cdn: Fake;
  let trap: Fake;
  let client: RegistryClient;

  before(async () => {
    [registry, auth, cdn, trap] = await Promise.all([startFake(), startFake(), startFake(), startFake()]);
    registryHost = registry.host;
  });
  after(async () => {
    await client?.close();
    await Promise.all([registry, auth, cdn, trap].map((f) => f.close()));
  });
  beforeEach(async () => {
    await client?.close();
    for (const fake of [registry, auth, cdn, trap]) fake.requests.length = 0;
    client = newClient();
    trap.handle = (_req, res) => send(res, 200, { "content-type": "application/json" }, JSON.stringify({ token: "trap-token" }));
    auth.handle = (req, res) =>
      req.headers.authorization === BASIC ? send(res, 200, { "content-type": "application/json" }, JSON.stringify({ token: TOKEN, expires_in: 300 })) : send(res, 401);
  });

  /** The registry wants a bearer token from its own realm (another origin, as Docker Hub's auth.docker.io) and sends blobs to the CDN. */
  function tokenRegistry(): void {
    registry.handle = (req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        return send(res, 401, { "www-authenticate": `Bearer realm="${auth.origin}/token",service="registry",scope="repository:app:pull"` });
      }
      if (req.url?.startsWith("/v2/app/blobs/")) return send(res, 307, { location: `${cdn.origin}/signed/blob?expires=1` });
      return send(res, 200, { "content-type": "application/json" }, JSON.stringify({ name: "app", tags: ["v1"] }));
    };
  }

  /** The registry wants Basic credentials and sends blobs to the CDN. */
  function basicRegistry(): void {
    registry.handle = (req, res) => {
      if (req.headers.authorization !== BASIC) return send(res, 401, { "www-authenticate": 'Basic realm="registry"' });
      if (req.url?.startsWith("/v2/app/blobs/")) return send(res, 307, { location: `${cdn.origin}/signed/blob` });
      return send(res, 200, { "content-type": "application/json" }, JSON.stringify({ name: "app", tags: ["v1"] }));
    };
  }

  /** Learn the registry's challenge first, as any earlier request does: the blob GET then carries credentials at once. */
  async function listTags(): Promise<string[]> {
    const tags: string[] = [];
    for await (const tag of client.tags("app")) tags.push(tag);
    return tags;
  }

  const cdnChallenges = {
    basic: () => 'Basic realm="cdn"',
    bearer: () => `Bearer realm="${trap.origin}/token",service="cdn",scope="repository:app:pull"`,
  };

  for (const [registryKind, setUp] of [
    ["token", tokenRegistry],
    ["basic", basicRegistry],
  ] as const) {
    for (const [challengeKind, challenge] of Object.entries(cdnChallenges)) {
      it(`registry with ${registryKind} auth, CDN asking ${challengeKind}: a clear error; no credentials to the CDN or its realm`, async () => {
        setUp();
        cdn.handle = (_req, res) => send(res, 401, { "www-authenticate": challenge() });
        // Warm: the registry's challenge is known, the blob GET carries credentials at once. Cold: learned on the way.
        for (const warm of [true, false]) {
          await client.close();
          client = newClient();
          for (const fake of [registry, auth, cdn, trap]) fake.requests.length = 0;
          if (warm) assert.deepEqual(await listTags(), ["v1"]);
          const outcome = await client.getBlob("app", DIGEST).then(
            () => undefined,
            (err: unknown) => err,
          );
          assert.deepEqual(trap.requests, [], "nothing reached the CDN's realm");
          // Asked once, anonymously: its 401 was not answered with another try.
          assert.deepEqual(cdn.requests.map((r) => r.authorization), [undefined], "the CDN saw no Authorization");
          assert.ok(outcome instanceof InsecureRequestError, String(outcome));
          assert.equal(
            outcome.message,
            `blob ${DIGEST} of app at ${registry.host} was redirected to ${cdn.origin}, which asked for authentication; quayside does not send registry credentials there`,
          );
        }
      });
    }
  }

  it("the registry's own challenge and token survive a CDN's challenge", async () => {
    tokenRegistry();
    cdn.handle = (_req, res) => send(res, 401, { "www-authenticate": 'Basic realm="cdn"' });
    assert.deepEqual(await listTags(), ["v1"]);
    await assert.rejects(client.getBlob("app", DIGEST), InsecureRequestError);
    registry.requests.length = 0;
    auth.requests.length = 0;
    // Straight to the registry with its token: no Basic sent to it, no new 401 round, no new token.
    assert.deepEqual(await listTags(), ["v1"]);
    assert.deepEqual(registry.requests.map((r) => r.authorization), [`Bearer ${TOKEN}`]);
    assert.deepEqual(auth.requests, []);
  });

  it("a CDN that serves the blob anonymously works, with the token from the registry's realm on another host", async () => {
    tokenRegistry();
    cdn.handle = (_req, res) => send(res, 200, { "content-type": "application/octet-stream" }, BLOB.toString("latin1"));
    const bytes = await readAll(await client.getBlob("app", DIGEST, { expectedSize: BLOB.length }));
    assert.ok(bytes.equals(BLOB));
    assert.deepEqual(auth.requests.map((r) => r.authorization), [BASIC], "credentials went to the registry's own realm");
    assert.deepEqual(cdn.requests.map((r) => r.authorization), [undefined]);
    assert.deepEqual(trap.requests, []);
  });
});
