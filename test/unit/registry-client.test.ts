/**
 * RegistryClient against a fake registry, only for faults a real registry does not produce
 * (dropped connections, wrong digests, hostile Link headers, counted token requests).
 * Everything listens on 127.0.0.1 and is closed in `after`.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Authenticator } from "../../src/auth/authenticator.js";
import { staticCredentials } from "../../src/auth/credentials.js";
import { repositoryScope } from "../../src/auth/scope.js";
import { digestOf } from "../../src/digest/digest.js";
import { DigestMismatchError, InsecureRequestError, ProtocolError, RegistryError } from "../../src/errors.js";
import type { HttpClient } from "../../src/http/transport.js";
import { MediaType } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface FakeServer {
  port: number;
  origin: string;
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"] }>;
  handle: Handler;
  close(): Promise<void>;
}

async function startFake(): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const fake: FakeServer = {
    port: 0,
    origin: "",
    requests: [],
    handle: (_req, res) => {
      res.writeHead(500);
      res.end();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    fake.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    req.resume();
    fake.handle(req, res);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.origin = `http://127.0.0.1:${fake.port}`;
  return fake;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { errors: [{ code, message, detail: null }] });
}

const BLOB = randomBytes(256 * 1024);
const BLOB_DIGEST = digestOf(BLOB);

/** Sends the first half of the blob with the full Content-Length, then drops the connection. */
function dropMidBody(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BLOB.length, "docker-content-digest": BLOB_DIGEST });
  res.write(BLOB.subarray(0, BLOB.length / 2), () => {
    setTimeout(() => req.socket.destroy(), 20);
  });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect(iterable: AsyncIterable<string>): Promise<{ items: string[]; error: unknown }> {
  const items: string[] = [];
  try {
    for await (const item of iterable) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}

describe("RegistryClient against a fake registry", () => {
  let registry: FakeServer;
  let other: FakeServer;
  let client: RegistryClient;

  before(async () => {
    registry = await startFake();
    other = await startFake();
  });

  beforeEach(async () => {
    await client?.close();
    registry.requests.length = 0;
    other.requests.length = 0;
    client = new RegistryClient(`127.0.0.1:${registry.port}`, {
      plainHttp: true,
      dockerConfig: false,
      retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 200 },
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
    });
  });

  after(async () => {
    await client?.close();
    await registry.close();
    await other.close();
  });

  describe("blob resume", () => {
    it("resumes a dropped blob with one Range request answered 206, and verifies the whole", async () => {
      const ranges: string[] = [];
      registry.handle = (req, res) => {
        const range = req.headers.range;
        if (range === undefined) return dropMidBody(req, res);
        ranges.push(range);
        const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1]);
        res.writeHead(206, {
          "content-length": BLOB.length - start,
          "content-range": `bytes ${start}-${BLOB.length - 1}/${BLOB.length}`,
        });
        res.end(BLOB.subarray(start));
      };
      const progress: number[] = [];
      const stream = await client.getBlob("app", BLOB_DIGEST, { expectedSize: BLOB.length, onProgress: (n) => progress.push(n) });
      const bytes = await readAll(stream);
      assert.equal(bytes.length, BLOB.length);
      assert.ok(bytes.equals(BLOB));
      assert.equal(ranges.length, 1, `range requests: ${JSON.stringify(ranges)}`);
      const start = Number(/^bytes=(\d+)-$/.exec(ranges[0] ?? "")?.[1]);
      assert.ok(start > 0 && start <= BLOB.length / 2, `resumed at ${start}`);
      assert.equal(registry.requests.length, 2);
      assert.equal(progress.at(-1), BLOB.length);
    });

    it("resumes when the server ignores Range and answers 200 with the whole blob", async () => {
      let rangeRequests = 0;
      registry.handle = (req, res) => {
        if (req.headers.range === undefined) return dropMidBody(req, res);
        rangeRequests++;
        res.writeHead(200, { "content-length": BLOB.length });
        res.end(BLOB);
      };
      const bytes = await readAll(await client.getBlob("app", BLOB_DIGEST));
      assert.ok(bytes.equals(BLOB), `got ${bytes.length} bytes`);
      assert.equal(rangeRequests, 1);
    });

    it("fails when a 206 starts at the wrong offset", async () => {
      registry.handle = (req, res) => {
        if (req.headers.range === undefined) return dropMidBody(req, res);
        res.writeHead(206, { "content-length": BLOB.length, "content-range": `bytes 0-${BLOB.length - 1}/${BLOB.length}` });
        res.end(BLOB);
      };
      await assert.rejects(readAll(await client.getBlob("app", BLOB_DIGEST)), ProtocolError);
    });

    it("gives up after resumeAttempts drops", async () => {
      registry.handle = (req, res) => {
        res.writeHead(req.headers.range === undefined ? 200 : 206, { "content-length": BLOB.length });
        res.write(BLOB.subarray(0, 1024), () => setTimeout(() => req.socket.destroy(), 20));
      };
      await assert.rejects(readAll(await client.getBlob("app", BLOB_DIGEST, { resumeAttempts: 1 })));
      // the first GET plus one resume; a dropped body is not retried by the HTTP layer on its own.
      assert.equal(registry.requests.length, 2);
    });
  });

  describe("digest verification", () => {
    it("errors the blob stream with DigestMismatchError when the bytes do not match", async () => {
      const wrong = Buffer.from("these are not the bytes you are looking for");
      registry.handle = (_req, res) => {
        res.writeHead(200, { "content-length": wrong.length });
        res.end(wrong);
      };
      await assert.rejects(readAll(await client.getBlob("app", BLOB_DIGEST)), (err: unknown) => {
        assert.ok(err instanceof DigestMismatchError, String(err));
        assert.equal(err.expected, BLOB_DIGEST);
        assert.equal(err.actual, digestOf(wrong));
        return true;
      });
      await assert.rejects(client.getBlobBytes("app", BLOB_DIGEST), DigestMismatchError);
    });

    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: digestOf("{}"), size: 2 },
        layers: [],
      }),
    );
    const manifestDigest = digestOf(manifestBytes);
    const serveManifest = (headerDigest: string) => (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "content-type": MediaType.OciManifest, "content-length": manifestBytes.length, "docker-content-digest": headerDigest });
      res.end(manifestBytes);
    };

    it("accepts a manifest whose Docker-Content-Digest matches its bytes", async () => {
      registry.handle = serveManifest(manifestDigest);
      const manifest = await client.getManifest("app", "latest");
      assert.equal(manifest.digest, manifestDigest);
      assert.equal(manifest.kind, "oci-manifest");
      assert.ok(Buffer.from(manifest.bytes).equals(manifestBytes));
      assert.match(String(registry.requests[0]?.headers.accept), /application\/vnd\.oci\.image\.manifest\.v1\+json/);
    });

    it("rejects a manifest served with a wrong Docker-Content-Digest", async () => {
      const bogus = digestOf("something else");
      registry.handle = serveManifest(bogus);
      await assert.rejects(client.getManifest("app", "latest"), (err: unknown) => {
        assert.ok(err instanceof DigestMismatchError, String(err));
        assert.equal(err.expected, bogus);
        assert.equal(err.actual, manifestDigest);
        return true;
      });
    });

    it("rejects a manifest fetched by digest whose bytes hash differently", async () => {
      const asked = digestOf("another manifest");
      registry.handle = (_req, res) => {
        res.writeHead(200, { "content-type": MediaType.OciManifest, "content-length": manifestBytes.length });
        res.end(manifestBytes);
      };
      await assert.rejects(client.getManifest("app", asked), DigestMismatchError);
    });
  });

  describe("pagination", () => {
    it("refuses a Link to another host, and sends nothing there", async () => {
      registry.handle = (_req, res) =>
        json(res, 200, { repositories: ["a", "b"] }, { link: `<http://127.0.0.1:${other.port}/v2/_catalog?last=b>; rel="next"` });
      other.handle = (_req, res) => json(res, 200, { repositories: ["stolen"] });
      const { items, error } = await collect(client.catalog());
      assert.deepEqual(items, ["a", "b"]);
      assert.ok(error instanceof InsecureRequestError, String(error));
      assert.equal(other.requests.length, 0);
      assert.equal(registry.requests.length, 1);
    });

    it("detects a Link that points back to the same page", async () => {
      registry.handle = (_req, res) => json(res, 200, { tags: ["v1", "v2"] }, { link: '</v2/app/tags/list?n=2>; rel="next"' });
      const { items, error } = await collect(client.tags("app", { pageSize: 2 }));
      assert.deepEqual(items, ["v1", "v2"]);
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, /loop/);
      assert.equal(registry.requests.length, 1);
    });

    it("follows Links across pages", async () => {
      registry.handle = (req, res) => {
        const last = new URL(req.url ?? "/", registry.origin).searchParams.get("last");
        if (last === null) json(res, 200, { tags: ["a", "b"] }, { link: '</v2/app/tags/list?last=b&n=2>; rel="next"' });
        else json(res, 200, { tags: ["c"] });
      };
      assert.deepEqual((await collect(client.tags("app"))).items, ["a", "b", "c"]);
      assert.equal(registry.requests[1]?.url, "/v2/app/tags/list?last=b&n=2");
    });

    it("resolves a relative Link against the page that carried it", async () => {
      registry.handle = (req, res) => {
        const last = new URL(req.url ?? "/", registry.origin).searchParams.get("last");
        if (last === null) json(res, 200, { tags: ["a"] }, { link: '<list?last=a&n=1>; rel="next"' });
        else json(res, 200, { tags: ["b"] });
      };
      const { items, error } = await collect(client.tags("app"));
      assert.equal(error, undefined);
      assert.deepEqual(items, ["a", "b"]);
      assert.equal(registry.requests[1]?.url, "/v2/app/tags/list?last=a&n=1");
    });

    it("reads `tags: null` as no tags", async () => {
      registry.handle = (_req, res) => json(res, 200, { name: "app", tags: null });
      const { items, error } = await collect(client.tags("app"));
      assert.equal(error, undefined);
      assert.deepEqual(items, []);
    });

    it("rejects a listing that is not a list of strings", async () => {
      registry.handle = (_req, res) => json(res, 200, { tags: [1, 2] });
      const { error } = await collect(client.tags("app"));
      assert.ok(error instanceof ProtocolError, String(error));
    });
  });

  describe("error answers", () => {
    it("turns 403 DENIED into RegistryError code DENIED, category denied", async () => {
      registry.handle = (_req, res) => errorBody(res, 403, "DENIED", "requested access to the resource is denied");
      const { error } = await collect(client.tags("secret"));
      assert.ok(error instanceof RegistryError, String(error));
      assert.equal(error.code, "DENIED");
      assert.equal(error.category, "denied");
      assert.equal(error.status, 403);
      assert.deepEqual(error.errors[0], { code: "DENIED", message: "requested access to the resource is denied", detail: null });
    });

    it("turns 404 MANIFEST_UNKNOWN into category not-found", async () => {
      registry.handle = (_req, res) => errorBody(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
      await assert.rejects(client.getManifest("app", "nope"), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.code, "MANIFEST_UNKNOWN");
        assert.equal(err.category, "not-found");
        assert.equal(err.status, 404);
        assert.equal(err.request.method, "GET");
        return true;
      });
    });

    it("derives a code from the status when the body has none (HEAD)", async () => {
      registry.handle = (_req, res) => {
        res.writeHead(404);
        res.end();
      };
      await assert.rejects(client.headBlob("app", BLOB_DIGEST), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.code, "NOT_FOUND");
        assert.equal(err.category, "not-found");
        return true;
      });
      assert.equal(await client.blobExists("app", BLOB_DIGEST), false);
    });

    it("keeps the first line of a non-JSON error page", async () => {
      registry.handle = (_req, res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("Bad gateway from proxy\n<html>...</html>");
      };
      await assert.rejects(client.getManifest("app", "latest"), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.status, 502);
        assert.match(err.message, /Bad gateway from proxy/);
        return true;
      });
      // 502 is retried by the HTTP layer before it is reported.
      assert.equal(registry.requests.length, 3);
    });
  });

  describe("bearer token flow", () => {
    it("lists 3 pages with exactly one token request and pages+1 registry requests", async () => {
      const token = "fake-registry-token";
      const realm = `${other.origin}/token`;
      other.handle = (_req, res) => json(res, 200, { token, expires_in: 300 });
      registry.handle = (req, res) => {
        if (req.headers.authorization !== `Bearer ${token}`) {
          res.writeHead(401, {
            "content-type": "application/json",
            "www-authenticate": `Bearer realm="${realm}",service="fake-registry",scope="repository:app:pull"`,
          });
          res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
          return;
        }
        const last = new URL(req.url ?? "/", registry.origin).searchParams.get("last");
        if (last === null) json(res, 200, { tags: ["t1", "t2"] }, { link: '</v2/app/tags/list?last=t2&n=2>; rel="next"' });
        else if (last === "t2") json(res, 200, { tags: ["t3", "t4"] }, { link: '</v2/app/tags/list?last=t4&n=2>; rel="next"' });
        else json(res, 200, { tags: ["t5"] });
      };
      const { items, error } = await collect(client.tags("app"));
      assert.equal(error, undefined);
      assert.deepEqual(items, ["t1", "t2", "t3", "t4", "t5"]);
      assert.equal(other.requests.length, 1, "token requests");
      assert.equal(registry.requests.length, 4, "registry requests");
      const tokenUrl = new URL(other.requests[0]?.url ?? "", other.origin);
      assert.equal(tokenUrl.searchParams.get("service"), "fake-registry");
      assert.deepEqual(tokenUrl.searchParams.getAll("scope"), ["repository:app:pull"]);
      assert.equal(registry.requests[0]?.headers.authorization, undefined);
      assert.ok(registry.requests.slice(1).every((r) => r.headers.authorization === `Bearer ${token}`));
    });

    it("reports a 401 that a fresh token does not cure, without looping", async () => {
      const realm = `${other.origin}/token`;
      other.handle = (_req, res) => json(res, 200, { token: "useless", expires_in: 300 });
      registry.handle = (_req, res) => {
        res.writeHead(401, { "www-authenticate": `Bearer realm="${realm}",service="fake-registry"` });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "no" }] }));
      };
      await assert.rejects(client.getManifest("app", "latest"), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.category, "unauthorized");
        return true;
      });
      assert.equal(registry.requests.length, 2);
      assert.equal(other.requests.length, 1);
    });
  });

  it("falls back to plain HTTP for a loopback registry that does not speak TLS", async () => {
    const auto = new RegistryClient(`127.0.0.1:${registry.port}`, { dockerConfig: false, retry: { retries: 0 }, headersTimeoutMs: 5_000 });
    registry.handle = (_req, res) => json(res, 200, {}, { "docker-distribution-api-version": "registry/2.0" });
    try {
      const ping = await auto.ping();
      assert.equal(ping.status, 200);
      assert.equal(ping.apiVersion, "registry/2.0");
      assert.equal(auto.baseUrl, `http://127.0.0.1:${registry.port}`);
    } finally {
      await auto.close();
    }
  });
});

describe("Authenticator and plain HTTP", () => {
  /** An HTTP client that fails the test if anything is sent. */
  const noNetwork = {
    request: () => {
      throw new Error("no request may be sent");
    },
  } as unknown as HttpClient;
  const basic = staticCredentials({ kind: "basic", username: "user", password: "pass" });
  const url = new URL("http://example.invalid/v2/");

  it("refuses basic credentials over plain HTTP to a non-loopback host", async () => {
    const auth = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials: basic });
    await assert.rejects(auth.afterUnauthorized(url, ['Basic realm="r"'], [], undefined), (err: unknown) => {
      assert.ok(err instanceof InsecureRequestError, String(err));
      assert.equal(err.code, "INSECURE_REQUEST");
      return true;
    });
  });

  it("refuses to send credentials to a plain-HTTP token realm", async () => {
    const auth = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials: basic });
    await assert.rejects(
      auth.afterUnauthorized(new URL("https://example.invalid/v2/"), ['Bearer realm="http://auth.example.invalid/token"'], [repositoryScope("a", "pull")], undefined),
      InsecureRequestError,
    );
  });

  it("refuses a fixed Authorization header over plain HTTP too", async () => {
    const auth = new Authenticator({
      registry: "example.invalid",
      http: noNetwork,
      credentials: staticCredentials({ kind: "authorization", header: "Bearer fixed" }),
    });
    await assert.rejects(auth.headerFor(url, []), InsecureRequestError);
  });

  it("rejects a bearer challenge whose realm is not a URL with ProtocolError, with or without credentials", async () => {
    for (const credentials of [basic, undefined]) {
      const auth = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials });
      await assert.rejects(
        auth.afterUnauthorized(new URL("https://example.invalid/v2/"), ['Bearer realm="not a url",service="x"'], [], undefined),
        ProtocolError,
      );
    }
  });

  it("sends basic credentials over plain HTTP when allowInsecureCredentials is set, and over HTTPS", async () => {
    const expected = `Basic ${Buffer.from("user:pass").toString("base64")}`;
    const insecure = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials: basic, allowInsecureCredentials: true });
    assert.equal(await insecure.afterUnauthorized(url, ['Basic realm="r"'], [], undefined), expected);
    assert.equal(await insecure.headerFor(url, []), expected);
    const secure = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials: basic });
    assert.equal(await secure.afterUnauthorized(new URL("https://example.invalid/v2/"), ['Basic realm="r"'], [], undefined), expected);
  });

  it("does not resend basic credentials that were just refused", async () => {
    const auth = new Authenticator({ registry: "example.invalid", http: noNetwork, credentials: basic, allowInsecureCredentials: true });
    const header = await auth.afterUnauthorized(url, ['Basic realm="r"'], [], undefined);
    assert.equal(await auth.afterUnauthorized(url, ['Basic realm="r"'], [], header), undefined);
  });

  it("allows credentials over plain HTTP to a loopback host", async () => {
    const auth = new Authenticator({ registry: "localhost:5000", http: noNetwork, credentials: basic });
    const header = await auth.afterUnauthorized(new URL("http://127.0.0.1:5000/v2/"), ['Basic realm="r"'], [], undefined);
    assert.match(header ?? "", /^Basic /);
  });
});
