import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { NetworkError, ProtocolError } from "../../src/errors.js";
import { isLoopbackHost } from "../../src/http/hosts.js";
import { parseRetryAfter } from "../../src/http/retry.js";
import { clientHello, probeTls } from "../../src/http/tls-probe.js";
import { DEFAULT_USER_AGENT, HttpClient, type HttpClientOptions } from "../../src/http/transport.js";
import { RegistryClient } from "../../src/registry/client.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  url: string;
  port: number;
  /** Every request seen, in order. */
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }>;
  /** TCP connections accepted so far. */
  readonly connections: number;
  handle: Handler;
  close(): Promise<void>;
}

async function listen(server: Server, handlerBox: { handle: Handler }, requests: TestServer["requests"], scheme: string): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on("connection", (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handlerBox.handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const result: TestServer = {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    get handle() {
      return handlerBox.handle;
    },
    set handle(h: Handler) {
      handlerBox.handle = h;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return result;
}

function startServer(handle: Handler = (_req, res) => res.end("ok")): Promise<TestServer> {
  return listen(createServer(), { handle }, [], "http");
}

function startHttpsServer(key: Buffer, cert: Buffer, handle: Handler = (_req, res) => res.end("secure")): Promise<TestServer> {
  return listen(createHttpsServer({ key, cert }) as unknown as Server, { handle }, [], "https");
}

function listenTcp(server: TcpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

/** A client with short timeouts and a fast retry policy; closed by the caller. */
function client(options: HttpClientOptions = {}): HttpClient {
  return new HttpClient({
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    ...options,
    retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 2_000, ...options.retry },
  });
}

describe("HttpClient", () => {
  let server: TestServer;
  let other: TestServer;
  let http: HttpClient;

  before(async () => {
    server = await startServer();
    other = await startServer();
    http = client();
  });

  after(async () => {
    await http.close();
    await server.close();
    await other.close();
  });

  const reset = (handle: Handler, target = server) => {
    server.requests.length = 0;
    other.requests.length = 0;
    target.handle = handle;
  };

  it("sends the default User-Agent, or the one configured", async () => {
    reset((_req, res) => res.end("hello"));
    const res = await http.request({ method: "GET", url: `${server.url}/ua` });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "hello");
    assert.equal(server.requests[0]?.headers["user-agent"], DEFAULT_USER_AGENT);

    const custom = client({ userAgent: "my-tool/9.9" });
    try {
      await (await custom.request({ method: "GET", url: `${server.url}/ua` })).dump();
    } finally {
      await custom.close();
    }
    assert.equal(server.requests[1]?.headers["user-agent"], "my-tool/9.9");
  });

  it("sends requests made one after the other on one connection, whatever the last answer was", async () => {
    // undici frees a connection for its pool one event-loop turn after an answer ends; a request
    // sent before then went out on a new connection: a second TLS handshake for an inspect.
    const sequential = client();
    const before = server.connections;
    try {
      reset((req, res) => (req.url === "/json" ? res.end('{"a":1}') : res.end("body")));
      assert.equal(await (await sequential.request({ method: "GET", url: `${server.url}/text` })).text(), "body");
      assert.deepEqual(await (await sequential.request({ method: "GET", url: `${server.url}/json` })).json(), { a: 1 });
      assert.equal((await sequential.request({ method: "HEAD", url: `${server.url}/head` })).status, 200);
      await (await sequential.request({ method: "GET", url: `${server.url}/dumped` })).dump();
      const small = await sequential.request({ method: "GET", url: `${server.url}/small`, small: { maxBytes: 1024 } });
      assert.equal(await small.text(), "body");
      assert.equal((await sequential.request({ method: "GET", url: `${server.url}/last` })).status, 200);
    } finally {
      await sequential.close();
    }
    assert.equal(server.requests.length, 6);
    assert.equal(server.connections - before, 1, "a request made after the previous answer was read opened another connection");
  });

  it("says in words what a refused connection means, naming the code once", async () => {
    const closed = createTcpServer();
    const port = await listenTcp(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const once = client({ retry: { retries: 0 } });
    try {
      await assert.rejects(once.request({ method: "GET", url: `http://127.0.0.1:${port}/v2/` }), (err: unknown) => {
        assert.ok(err instanceof NetworkError);
        assert.equal(err.message, `GET http://127.0.0.1:${port}/v2/: 127.0.0.1:${port} refused the connection (ECONNREFUSED): is a registry listening there, on that port?`);
        return true;
      });
    } finally {
      await once.close();
    }
  });

  it("retries a 503 and returns the 200 that follows", async () => {
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      if (attempts === 1) {
        res.writeHead(503);
        res.end("busy");
      } else {
        res.end("fine");
      }
    });
    const res = await http.request({ method: "GET", url: `${server.url}/flaky` });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "fine");
    assert.equal(attempts, 2);
  });

  it("does not retry a POST or PATCH unless asked: an upload chunk must not be sent twice", async () => {
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      res.writeHead(attempts === 1 ? 503 : 202);
      res.end();
    });
    const patch = await http.request({ method: "PATCH", url: `${server.url}/upload`, body: "chunk" });
    assert.equal(patch.status, 503);
    await patch.dump();
    assert.equal(attempts, 1);
    attempts = 0;
    const post = await http.request({ method: "POST", url: `${server.url}/upload`, body: "x", retry: true });
    assert.equal(post.status, 202);
    await post.dump();
    assert.equal(attempts, 2);
  });

  it("does not retry a 4xx", async () => {
    reset((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const res = await http.request({ method: "GET", url: `${server.url}/missing` });
    await res.dump();
    assert.equal(res.status, 404);
    assert.equal(server.requests.length, 1);
  });

  it("waits as long as Retry-After says", async () => {
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      res.writeHead(attempts === 1 ? 503 : 200, attempts === 1 ? { "retry-after": "1" } : {});
      res.end();
    });
    const started = performance.now();
    const res = await http.request({ method: "GET", url: `${server.url}/later` });
    const elapsed = performance.now() - started;
    await res.dump();
    assert.equal(res.status, 200);
    assert.equal(attempts, 2);
    assert.ok(elapsed >= 950, `waited only ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 5_000, `waited ${elapsed.toFixed(0)} ms`);
  });

  it("without Retry-After backs off briefly per the policy", async () => {
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      res.writeHead(attempts === 1 ? 503 : 200);
      res.end();
    });
    const started = performance.now();
    await (await http.request({ method: "GET", url: `${server.url}/soon` })).dump();
    assert.ok(performance.now() - started < 800);
    assert.equal(attempts, 2);
  });

  it("gives up after `retries` retries and returns the last 5xx", async () => {
    const limited = client({ retry: { retries: 2 } });
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      res.writeHead(503);
      res.end(`attempt ${attempts}`);
    });
    try {
      const res = await limited.request({ method: "GET", url: `${server.url}/down` });
      assert.equal(res.status, 503);
      assert.equal(await res.text(), "attempt 3");
      assert.equal(attempts, 3);
    } finally {
      await limited.close();
    }
  });

  it("does not retry when the request says retry: false", async () => {
    reset((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const res = await http.request({ method: "GET", url: `${server.url}/once`, retry: false });
    await res.dump();
    assert.equal(res.status, 503);
    assert.equal(server.requests.length, 1);
  });

  it("retries after the server resets the connection", async () => {
    let attempts = 0;
    reset((req, res) => {
      attempts++;
      if (attempts === 1) req.socket.destroy();
      else res.end("recovered");
    });
    const res = await http.request({ method: "GET", url: `${server.url}/reset` });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "recovered");
    assert.equal(attempts, 2);
  });

  it("fails with NetworkError when every attempt is reset", async () => {
    const limited = client({ retry: { retries: 1 } });
    reset((req) => req.socket.destroy());
    try {
      await assert.rejects(limited.request({ method: "GET", url: `${server.url}/always-reset` }), (err: unknown) => {
        assert.ok(err instanceof NetworkError, String(err));
        assert.equal(err.category, "network");
        return true;
      });
      assert.equal(server.requests.length, 2);
    } finally {
      await limited.close();
    }
  });

  it("replays a buffered body on retry", async () => {
    let attempts = 0;
    reset((_req, res) => {
      attempts++;
      res.writeHead(attempts === 1 ? 503 : 201);
      res.end();
    });
    const res = await http.request({ method: "PUT", url: `${server.url}/upload`, body: new TextEncoder().encode("payload") });
    await res.dump();
    assert.equal(res.status, 201);
    assert.deepEqual(
      server.requests.map((r) => r.body),
      ["payload", "payload"],
    );
  });

  it("does not retry a request whose body is a stream", async () => {
    reset((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const res = await http.request({ method: "PUT", url: `${server.url}/stream`, body: Readable.from([Buffer.from("one "), Buffer.from("shot")]) });
    await res.dump();
    assert.equal(res.status, 503);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]?.body, "one shot");
  });

  it("does not retry a stream body after a connection reset either", async () => {
    reset((req) => req.socket.destroy());
    await assert.rejects(
      http.request({ method: "PUT", url: `${server.url}/stream-reset`, body: Readable.from([Buffer.from("data")]) }),
      NetworkError,
    );
    assert.equal(server.requests.length, 1);
  });

  it("follows a same-origin redirect and keeps Authorization", async () => {
    reset((req, res) => {
      if (req.url === "/start") {
        res.writeHead(302, { location: "/final" });
        res.end();
      } else {
        res.end("arrived");
      }
    });
    const res = await http.request({ method: "GET", url: `${server.url}/start`, headers: { Authorization: "Bearer same-origin-token" } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "arrived");
    assert.equal(res.url, `${server.url}/final`);
    assert.deepEqual(
      server.requests.map((r) => [r.url, r.headers.authorization]),
      [
        ["/start", "Bearer same-origin-token"],
        ["/final", "Bearer same-origin-token"],
      ],
    );
  });

  it("drops Authorization on a redirect to another origin, keeping other headers", async () => {
    reset((_req, res) => {
      res.writeHead(307, { location: `${other.url}/blob?sig=x` });
      res.end();
    });
    other.handle = (_req, res) => res.end("cdn bytes");
    const res = await http.request({
      method: "GET",
      url: `${server.url}/v2/x/blobs/sha256:1`,
      headers: { Authorization: "Bearer must-not-leak", Cookie: "session=secret", "Proxy-Authorization": "Basic eA==", accept: "application/octet-stream" },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "cdn bytes");
    assert.equal(server.requests[0]?.headers.authorization, "Bearer must-not-leak");
    assert.equal(other.requests.length, 1);
    assert.equal(other.requests[0]?.headers.authorization, undefined);
    assert.equal(other.requests[0]?.headers.cookie, undefined);
    assert.equal(other.requests[0]?.headers["proxy-authorization"], undefined);
    assert.equal(other.requests[0]?.headers.accept, "application/octet-stream");
  });

  it("does not restore Authorization when a redirect chain comes back to the first origin", async () => {
    reset((req, res) => {
      if (req.url === "/begin") res.writeHead(302, { location: `${other.url}/bounce` });
      else res.writeHead(200);
      res.end();
    });
    other.handle = (_req, res) => {
      res.writeHead(302, { location: `${server.url}/back` });
      res.end();
    };
    await (await http.request({ method: "GET", url: `${server.url}/begin`, headers: { authorization: "Basic c2VjcmV0" } })).dump();
    assert.equal(other.requests[0]?.headers.authorization, undefined);
    assert.equal(server.requests[1]?.url, "/back");
    assert.equal(server.requests[1]?.headers.authorization, undefined);
  });

  it("follows up to 10 redirects", async () => {
    reset((req, res) => {
      const n = Number(req.url?.slice(1));
      if (n < 10) res.writeHead(302, { location: `/${n + 1}` });
      res.end(`page ${n}`);
    });
    const res = await http.request({ method: "GET", url: `${server.url}/0` });
    assert.equal(await res.text(), "page 10");
    assert.equal(server.requests.length, 11);
  });

  it("fails with ProtocolError after more than 10 redirects", async () => {
    reset((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(302, { location: `/${n + 1}` });
      res.end();
    });
    await assert.rejects(http.request({ method: "GET", url: `${server.url}/0` }), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.match(err.message, /redirects/);
      return true;
    });
    assert.equal(server.requests.length, 11);
  });

  it("does not follow redirects for other methods unless asked", async () => {
    reset((req, res) => {
      if (req.url === "/post") res.writeHead(307, { location: "/elsewhere" });
      res.end();
    });
    const res = await http.request({ method: "POST", url: `${server.url}/post`, body: "x" });
    await res.dump();
    assert.equal(res.status, 307);
    assert.equal(res.header("Location"), "/elsewhere");
    assert.equal(server.requests.length, 1);
  });

  it("never writes a credential into a log line", async () => {
    const lines: string[] = [];
    const logged = client({ logger: (line) => lines.push(line), retry: { retries: 1 } });
    let calls = 0;
    reset((req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(503);
        res.end();
      } else if (req.url?.startsWith("/a")) {
        res.writeHead(302, { location: "/b?access_token=query-secret-2" });
        res.end();
      } else {
        res.end("ok");
      }
    });
    try {
      await (
        await logged.request({
          method: "GET",
          url: `http://user:url-password-3@127.0.0.1:${server.port}/a?token=query-secret-1&n=5`,
          headers: { Authorization: "Bearer header-secret-0", Cookie: "session=cookie-secret-4" },
        })
      ).dump();
      // And a failed request.
      server.handle = (req) => req.socket.destroy();
      await assert.rejects(
        logged.request({ method: "GET", url: `${server.url}/fail?password=query-secret-5`, headers: { authorization: "Basic YmFzaWMtc2VjcmV0LTY=" } }),
        NetworkError,
      );
    } finally {
      await logged.close();
    }
    assert.ok(lines.length >= 6, `only ${lines.length} log lines`);
    const all = lines.join("\n");
    for (const secret of ["header-secret-0", "query-secret-1", "query-secret-2", "url-password-3", "cookie-secret-4", "query-secret-5", "YmFzaWMtc2VjcmV0LTY="]) {
      assert.ok(!all.includes(secret), `log contains ${secret}:\n${all}`);
    }
    // The lines are still useful: method, path and the auth scheme show.
    assert.match(all, /GET http:\/\/127\.0\.0\.1:\d+\/a\?/);
    assert.match(all, /Bearer REDACTED/);
    assert.match(all, /n=5/);
  });

  it("reports an aborted request as ABORTED without retrying", async () => {
    const controller = new AbortController();
    // Never answers; the abort comes once the request has arrived (not on a clock, which a loaded machine outruns).
    reset(() => controller.abort(new Error("user cancelled")));
    const pending = http.request({ method: "GET", url: `${server.url}/hang`, signal: controller.signal });
    await assert.rejects(pending, (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, "ABORTED");
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  it("reports an abort during the backoff between retries as ABORTED too", async () => {
    const controller = new AbortController();
    reset((_req, res) => {
      res.writeHead(503, { "retry-after": "2" });
      res.end();
      // The client is then waiting out the 2 s Retry-After: abort it there.
      setTimeout(() => controller.abort(new Error("user cancelled")), 50);
    });
    const started = performance.now();
    const pending = http.request({ method: "GET", url: `${server.url}/backoff`, signal: controller.signal });
    await assert.rejects(pending, (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, "ABORTED", String(err));
      assert.match((err as Error).message, /user cancelled/);
      return true;
    });
    assert.ok(performance.now() - started < 1_500, "the abort cut the 2 s wait short");
    assert.equal(server.requests.length, 1);
  });

  it("bytes() refuses a body over the limit", async () => {
    reset((_req, res) => res.end(Buffer.alloc(2048)));
    const res = await http.request({ method: "GET", url: `${server.url}/big` });
    await assert.rejects(res.bytes(1024), ProtocolError);
  });

  it("json() turns garbage into ProtocolError", async () => {
    reset((_req, res) => res.end("<html>"));
    const res = await http.request({ method: "GET", url: `${server.url}/html` });
    await assert.rejects(res.json(), ProtocolError);
  });
});

describe("HttpClient TLS", () => {
  let dir: string;
  let certFile: string;
  let cert: Buffer;
  let key: Buffer;
  let plain: TestServer;
  let secure: TestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "quayside-tls-"));
    certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "ignore", timeout: 30_000 },
    );
    cert = await readFile(certFile);
    key = await readFile(keyFile);
    plain = await startServer((_req, res) => res.end("plain"));
    secure = await startHttpsServer(key, cert);
  });

  after(async () => {
    await plain?.close();
    await secure?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reports https to a plain-HTTP server as TLS_NOT_SUPPORTED, without retrying", async () => {
    const http = client();
    try {
      await assert.rejects(http.request({ method: "GET", url: `https://127.0.0.1:${plain.port}/v2/` }), (err: unknown) => {
        assert.ok(err instanceof NetworkError, String(err));
        assert.equal(err.code, "TLS_NOT_SUPPORTED");
        return true;
      });
      assert.ok(plain.requests.length <= 1, `${plain.requests.length} requests`);
    } finally {
      await http.close();
    }
  });

  it("reports an untrusted certificate as TLS_CERTIFICATE, without retrying", async () => {
    const http = client();
    try {
      await assert.rejects(http.request({ method: "GET", url: `${secure.url}/v2/` }), (err: unknown) => {
        assert.ok(err instanceof NetworkError, String(err));
        assert.equal(err.code, "TLS_CERTIFICATE");
        return true;
      });
      assert.equal(secure.requests.length, 0);
    } finally {
      await http.close();
    }
  });

  it("trusts the certificate given as tls.caFile", async () => {
    const http = client({ tls: { caFile: certFile } });
    try {
      const res = await http.request({ method: "GET", url: `${secure.url}/v2/` });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "secure");
    } finally {
      await http.close();
    }
  });

  it("trusts the certificate given inline as tls.ca", async () => {
    const http = client({ tls: { ca: cert } });
    try {
      assert.equal(await (await http.request({ method: "GET", url: `${secure.url}/v2/` })).text(), "secure");
    } finally {
      await http.close();
    }
  });

  it("accepts any certificate with insecureSkipVerify", async () => {
    const http = client({ tls: { insecureSkipVerify: true } });
    try {
      const res = await http.request({ method: "GET", url: `${secure.url}/v2/` });
      assert.equal(await res.text(), "secure");
    } finally {
      await http.close();
    }
  });

  it("probeTls tells a TLS server from a plain one, and says unknown where nothing answers", async () => {
    assert.equal(await probeTls("127.0.0.1", secure.port), "tls");
    assert.equal(await probeTls("127.0.0.1", plain.port), "plain");
    const closed = await startServer((_req, res) => res.end());
    await closed.close();
    assert.equal(await probeTls("127.0.0.1", closed.port), "unknown");
  });

  it("probeTls's ClientHello gets a ServerHello from TLS 1.2-only and TLS 1.3-only servers", async () => {
    for (const versions of [{ maxVersion: "TLSv1.2" }, { minVersion: "TLSv1.3" }] satisfies TlsOptions[]) {
      const server = createTlsServer({ key, cert, ...versions }, (socket) => socket.end());
      server.on("tlsClientError", () => undefined);
      const port = await listenTcp(server);
      try {
        const reply = await new Promise<Buffer>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () => socket.write(clientHello("localhost")));
          socket.once("data", (data: Buffer) => {
            resolve(data);
            socket.destroy();
          });
          socket.once("error", reject);
          socket.once("close", () => reject(new Error("closed without an answer")));
        });
        assert.equal(reply[0], 0x16, `${JSON.stringify(versions)}: not a handshake record: ${reply.subarray(0, 8).toString("hex")}`);
        assert.equal(reply[5], 0x02, `${JSON.stringify(versions)}: not a ServerHello`);
        assert.equal(await probeTls("127.0.0.1", port), "tls");
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });

  it("probeTls: a server that answers with anything but TLS is plain; one that never answers is unknown at its time limit", async () => {
    const banner = createTcpServer((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n").resume());
    const silent = createTcpServer(() => undefined);
    const sockets: Socket[] = [];
    silent.on("connection", (socket) => sockets.push(socket));
    try {
      assert.equal(await probeTls("127.0.0.1", await listenTcp(banner)), "plain");
      assert.equal(await probeTls("127.0.0.1", await listenTcp(silent), 200), "unknown");
    } finally {
      for (const socket of sockets) socket.destroy();
      await Promise.all([banner, silent].map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it("a loopback registry client probes once, then speaks its scheme directly: no failed https request, no second probe", async () => {
    for (const [server, scheme, tls] of [
      [plain, "http", {}],
      [secure, "https", { caFile: certFile }],
    ] as const) {
      const lines: string[] = [];
      const registry = new RegistryClient(`127.0.0.1:${server.port}`, { dockerConfig: false, tls, logger: (line) => lines.push(line) });
      try {
        await Promise.all([1, 2, 3].map(() => registry.ping()));
        assert.equal(registry.baseUrl, `${scheme}://127.0.0.1:${server.port}`);
        assert.deepEqual(lines.filter((l) => l.startsWith("> ")).map((l) => l.split(" ").slice(0, 3).join(" ")), Array.from({ length: 3 }, () => `> GET ${scheme}://127.0.0.1:${server.port}/v2/`));
        assert.ok(!lines.some((l) => l.includes("failed")), lines.join(" | "));
      } finally {
        await registry.close();
      }
    }
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds", () => {
    assert.equal(parseRetryAfter("1"), 1_000);
    assert.equal(parseRetryAfter(" 120 "), 120_000);
    assert.equal(parseRetryAfter("0"), 0);
  });

  it("reads an HTTP-date relative to now, never negative", () => {
    const now = Date.parse("2024-05-01T12:00:00Z");
    assert.equal(parseRetryAfter("Wed, 01 May 2024 12:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter(new Date(now + 5_000).toUTCString(), now), 5_000);
    assert.equal(parseRetryAfter("Wed, 01 May 2024 11:00:00 GMT", now), 0);
  });

  it("returns undefined when absent or garbled", () => {
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter("soon"), undefined);
    // V8's Date.parse reads "1.5" as a date in 2001; it is no valid Retry-After.
    assert.equal(parseRetryAfter("1.5"), undefined);
    assert.equal(parseRetryAfter(""), undefined);
  });
});

describe("isLoopbackHost", () => {
  it("accepts loopback names and addresses, with or without a port", () => {
    for (const host of ["127.0.0.1", "127.0.0.1:5000", "127.1.2.3", "[::1]", "[::1]:5000", "::1", "localhost", "localhost:5000", "LOCALHOST", "registry.localhost:8080"]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
  });

  it("rejects everything else", () => {
    for (const host of ["10.0.0.1", "10.0.0.1:5000", "192.168.1.1", "example.com", "example.com:443", "127.example.com", "localhost.example.com", "[::2]:5000", "[2001:db8::1]", "0.0.0.0", ""]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});
