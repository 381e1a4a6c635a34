import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fetchToken, parseTokenResponse, TokenCache, type BearerToken } from "../../src/auth/token.js";
import { repositoryScope } from "../../src/auth/scope.js";
import { AuthenticationError, ProtocolError } from "../../src/errors.js";
import { HttpClient } from "../../src/http/transport.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");

describe("parseTokenResponse", () => {
  it("reads `token`", () => {
    const t = parseTokenResponse({ token: "abc", expires_in: 300 }, "test", NOW);
    assert.equal(t.token, "abc");
    assert.equal(t.expiresAt, NOW + 300_000);
    assert.equal(t.refreshToken, undefined);
  });

  it("falls back to `access_token`, and prefers `token` when both are present", () => {
    assert.equal(parseTokenResponse({ access_token: "oauth", expires_in: 120 }, "test", NOW).token, "oauth");
    assert.equal(parseTokenResponse({ token: "", access_token: "oauth" }, "test", NOW).token, "oauth");
    assert.equal(parseTokenResponse({ token: "docker", access_token: "oauth" }, "test", NOW).token, "docker");
  });

  it("defaults expires_in to 60 s and raises anything shorter to 60 s", () => {
    assert.equal(parseTokenResponse({ token: "t" }, "test", NOW).expiresAt, NOW + 60_000);
    assert.equal(parseTokenResponse({ token: "t", expires_in: 10 }, "test", NOW).expiresAt, NOW + 60_000);
    assert.equal(parseTokenResponse({ token: "t", expires_in: "3600" }, "test", NOW).expiresAt, NOW + 60_000);
    assert.equal(parseTokenResponse({ token: "t", expires_in: 61 }, "test", NOW).expiresAt, NOW + 61_000);
  });

  it("counts from issued_at when it is close to now, and from now otherwise", () => {
    const issued = NOW - 20_000;
    const near = parseTokenResponse({ token: "t", expires_in: 300, issued_at: new Date(issued).toISOString() }, "test", NOW);
    assert.equal(near.expiresAt, issued + 300_000);
    const skewed = parseTokenResponse({ token: "t", expires_in: 300, issued_at: "2001-01-01T00:00:00Z" }, "test", NOW);
    assert.equal(skewed.expiresAt, NOW + 300_000);
    const garbled = parseTokenResponse({ token: "t", expires_in: 300, issued_at: "yesterday-ish" }, "test", NOW);
    assert.equal(garbled.expiresAt, NOW + 300_000);
  });

  it("keeps a refresh token", () => {
    assert.equal(parseTokenResponse({ access_token: "a", refresh_token: "r" }, "test", NOW).refreshToken, "r");
  });

  it("rejects a response without a token, or not an object, with ProtocolError", () => {
    for (const body of [{}, { token: "" }, { token: 5 }, { access_token: null }, null, "token", [1]]) {
      assert.throws(() => parseTokenResponse(body, "token server X", NOW), (err: unknown) => {
        assert.ok(err instanceof ProtocolError, `${JSON.stringify(body)}: ${String(err)}`);
        assert.match(err.message, /token server X/);
        return true;
      });
    }
  });
});

describe("TokenCache", () => {
  const token = (value: string, expiresAt: number): BearerToken => ({ token: value, expiresAt });

  it("serves a cached token until shortly before it expires", async () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    let fetches = 0;
    const fetcher = async () => token(`t${++fetches}`, now + 60_000);
    const key = TokenCache.key("https://realm", "svc", "repository:a:pull");

    assert.equal((await cache.get(key, fetcher)).token, "t1");
    now += 30_000;
    assert.equal((await cache.get(key, fetcher)).token, "t1");
    assert.equal(cache.peek(key)?.token, "t1");
    // 60 s lifetime; renewal happens within the last few seconds, never after expiry.
    now += 29_999;
    assert.equal(cache.peek(key), undefined);
    assert.equal((await cache.get(key, fetcher)).token, "t2");
    assert.equal(fetches, 2);
  });

  it("keeps keys apart", async () => {
    const cache = new TokenCache(() => 0);
    const a = TokenCache.key("r", "s", "repository:a:pull");
    const b = TokenCache.key("r", "s", "repository:b:pull");
    const c = TokenCache.key("r", undefined, "repository:a:pull");
    await cache.get(a, async () => token("A", 1e12));
    await cache.get(b, async () => token("B", 1e12));
    assert.equal(cache.peek(a)?.token, "A");
    assert.equal(cache.peek(b)?.token, "B");
    assert.equal(cache.peek(c), undefined);
  });

  it("performs one fetch for concurrent get() calls on one key", async () => {
    const cache = new TokenCache(() => 0);
    let fetches = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fetcher = async () => {
      fetches++;
      await gate;
      return token("shared", 1e12);
    };
    const key = TokenCache.key("r", "s", "k");
    const all = Promise.all(Array.from({ length: 10 }, () => cache.get(key, fetcher)));
    release();
    const results = await all;
    assert.equal(fetches, 1);
    assert.deepEqual(
      results.map((t) => t.token),
      Array(10).fill("shared"),
    );
  });

  it("does not cache a failed fetch, and shares the failure among concurrent callers", async () => {
    const cache = new TokenCache(() => 0);
    const key = TokenCache.key("r", "s", "k");
    let fetches = 0;
    const failing = async (): Promise<BearerToken> => {
      fetches++;
      throw new Error("token server down");
    };
    const results = await Promise.allSettled([cache.get(key, failing), cache.get(key, failing)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(fetches, 1);
    assert.equal(cache.peek(key), undefined);
    assert.equal((await cache.get(key, async () => token("ok", 1e12))).token, "ok");
  });

  it("invalidate() forces a new fetch", async () => {
    const cache = new TokenCache(() => 0);
    const key = TokenCache.key("r", "s", "k");
    await cache.get(key, async () => token("old", 1e12));
    cache.invalidate(key);
    assert.equal((await cache.get(key, async () => token("new", 1e12))).token, "new");
  });
});

interface SeenRequest {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

describe("fetchToken against a token server", () => {
  let server: Server;
  let realm: string;
  let http: HttpClient;
  const seen: SeenRequest[] = [];
  /** What the next request gets; the default issues a token. */
  let respond: (req: SeenRequest, res: ServerResponse) => void;
  const issue = (_req: SeenRequest, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: "issued-token", expires_in: 300 }));
  };

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const entry: SeenRequest = {
          method: req.method ?? "",
          url: new URL(req.url ?? "/", "http://127.0.0.1"),
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        seen.push(entry);
        respond(entry, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    http = new HttpClient({ retry: { retries: 0 }, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });
  });

  after(async () => {
    await http.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const reset = () => {
    seen.length = 0;
    respond = issue;
  };

  it("GETs anonymously with service and one scope parameter per scope", async () => {
    reset();
    const token = await fetchToken(http, {
      realm,
      service: "registry.example",
      scopes: [repositoryScope("a/b", "pull"), repositoryScope("c", "pull", "push")],
      credential: undefined,
    });
    assert.equal(token.token, "issued-token");
    assert.ok(token.expiresAt > Date.now() + 200_000);
    assert.equal(seen.length, 1);
    const req = seen[0]!;
    assert.equal(req.method, "GET");
    assert.equal(req.url.pathname, "/token");
    assert.equal(req.url.searchParams.get("service"), "registry.example");
    assert.deepEqual(req.url.searchParams.getAll("scope"), ["repository:a/b:pull", "repository:c:pull,push"]);
    assert.equal(req.headers.authorization, undefined);
  });

  it("keeps query parameters already in the realm", async () => {
    reset();
    await fetchToken(http, { realm: `${realm}?account=me`, service: undefined, scopes: [], credential: undefined });
    const req = seen[0]!;
    assert.equal(req.url.searchParams.get("account"), "me");
    assert.equal(req.url.searchParams.has("service"), false);
    assert.equal(req.url.searchParams.has("scope"), false);
  });

  it("sends basic credentials as a Basic header on GET", async () => {
    reset();
    await fetchToken(http, {
      realm,
      service: "svc",
      scopes: [repositoryScope("a", "pull")],
      credential: { kind: "basic", username: "alice", password: "s3cret:with:colons" },
    });
    const req = seen[0]!;
    assert.equal(req.method, "GET");
    assert.equal(req.headers.authorization, `Basic ${Buffer.from("alice:s3cret:with:colons").toString("base64")}`);
  });

  it("POSTs a refresh_token form for an identity token", async () => {
    reset();
    respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: "oauth-token", expires_in: 900, refresh_token: "r2" }));
    };
    const token = await fetchToken(http, {
      realm,
      service: "svc",
      scopes: [repositoryScope("a", "pull"), repositoryScope("b", "push")],
      credential: { kind: "identity-token", token: "refresh-me" },
    });
    assert.equal(token.token, "oauth-token");
    assert.equal(token.refreshToken, "r2");
    const req = seen[0]!;
    assert.equal(req.method, "POST");
    assert.match(String(req.headers["content-type"]), /^application\/x-www-form-urlencoded/);
    assert.equal(req.headers.authorization, undefined);
    const form = new URLSearchParams(req.body);
    assert.equal(form.get("grant_type"), "refresh_token");
    assert.equal(form.get("refresh_token"), "refresh-me");
    assert.equal(form.get("service"), "svc");
    assert.equal(form.get("scope"), "repository:a:pull repository:b:push");
    assert.ok(form.get("client_id"));
  });

  it("POSTs grant_type=password for basic credentials when oauth2 is set", async () => {
    reset();
    await fetchToken(http, {
      realm,
      service: "svc",
      scopes: [repositoryScope("a", "pull")],
      credential: { kind: "basic", username: "bob", password: "pw&=+" },
      oauth2: true,
      clientId: "my-client",
    });
    const req = seen[0]!;
    assert.equal(req.method, "POST");
    const form = new URLSearchParams(req.body);
    assert.equal(form.get("grant_type"), "password");
    assert.equal(form.get("username"), "bob");
    assert.equal(form.get("password"), "pw&=+");
    assert.equal(form.get("client_id"), "my-client");
    assert.equal(form.get("scope"), "repository:a:pull");
    assert.equal(req.headers.authorization, undefined);
  });

  it("turns 401 into AuthenticationError", async () => {
    reset();
    respond = (_req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"details":"incorrect username or password"}');
    };
    await assert.rejects(
      fetchToken(http, { realm, service: "svc", scopes: [], credential: { kind: "basic", username: "u", password: "wrong" } }),
      (err: unknown) => {
        assert.ok(err instanceof AuthenticationError, String(err));
        assert.equal(err.code, "UNAUTHORIZED");
        assert.equal(err.category, "unauthorized");
        assert.doesNotMatch(err.message, /wrong/);
        return true;
      },
    );
  });

  it("turns other failures into AuthenticationError and garbage into ProtocolError", async () => {
    reset();
    respond = (_req, res) => {
      res.writeHead(500);
      res.end("boom");
    };
    await assert.rejects(fetchToken(http, { realm, service: "svc", scopes: [], credential: undefined }), AuthenticationError);
    respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("<html>not json</html>");
    };
    await assert.rejects(fetchToken(http, { realm, service: "svc", scopes: [], credential: undefined }), ProtocolError);
    respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    };
    await assert.rejects(fetchToken(http, { realm, service: "svc", scopes: [], credential: undefined }), ProtocolError);
  });
});
