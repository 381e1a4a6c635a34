/**
 * Docker Hub's recorded answers (library/ubuntu), replayed byte for byte by a loopback server
 * that stands in for registry-1.docker.io and auth.docker.io: the client must walk the bearer
 * flow with the same token request Docker Hub saw, read the 22.04 index and its children,
 * pick a platform, and agree with every Docker-Content-Digest.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isIndex } from "../../src/media/manifest.js";
import { parsePlatform, selectPlatform } from "../../src/ref/platform.js";
import { RegistryClient } from "../../src/registry/client.js";

interface Recorded {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const fixture = JSON.parse(readFileSync(path.resolve(repoRoot, "..", "shared", "fixtures", "dockerhub-recorded", "ubuntu.json"), "utf8")) as {
  responses: Recorded[];
};
const tokenResponse = fixture.responses.find((r) => r.url.startsWith("https://auth.docker.io/token"));
const manifests = new Map(fixture.responses.filter((r) => r.url.includes("/manifests/")).map((r) => [new URL(r.url).pathname, r]));
const recordedToken = (JSON.parse(tokenResponse?.body ?? "{}") as { token?: string }).token;

describe("replaying Docker Hub", () => {
  let server: Server;
  let host: string;
  const tokenQueries: string[] = [];
  let unauthorized = 0;

  before(async () => {
    assert.ok(tokenResponse && recordedToken, "the fixture must hold the token exchange");
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://replay");
      if (url.pathname === "/token") {
        tokenQueries.push(url.search);
        res.writeHead(tokenResponse.status, { "content-type": tokenResponse.headers["content-type"] ?? "application/json" });
        res.end(tokenResponse.body);
        return;
      }
      if (req.headers.authorization !== `Bearer ${recordedToken}`) {
        unauthorized++;
        // Docker Hub's challenge, with the realm pointed at this server.
        res.writeHead(401, {
          "www-authenticate": `Bearer realm="http://${host}/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"`,
          "content-type": "application/json",
        });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
        return;
      }
      const recorded = manifests.get(url.pathname);
      if (!recorded) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }));
        return;
      }
      const { "transfer-encoding": _dropped, ...headers } = recorded.headers;
      res.writeHead(recorded.status, headers);
      res.end(req.method === "HEAD" ? undefined : recorded.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("reads the 22.04 index and every child with one token, as Docker Hub was asked", async () => {
    const client = new RegistryClient(host, { plainHttp: true, dockerConfig: false });
    try {
      const index = await client.getManifest("library/ubuntu", "22.04");
      assert.ok(isIndex(index));
      assert.equal(index.digest, manifests.get("/v2/library/ubuntu/manifests/22.04")?.headers["docker-content-digest"]);
      for (const child of index.manifests) {
        const manifest = await client.getManifest("library/ubuntu", child.digest);
        assert.equal(manifest.digest, child.digest);
        assert.equal(manifest.bytes.length, child.size);
      }
      const arm = selectPlatform(index.manifests, parsePlatform("linux/arm/v7"));
      assert.equal(arm.digest, "sha256:ad18cfdb19dac67bf0072dacea661a817330e5c955d081f4d09914e743ae5d4a");
      const old = await client.getManifest("library/ubuntu", "12.04");
      assert.equal(old.kind, "docker-v2");
      assert.equal(old.digest, manifests.get("/v2/library/ubuntu/manifests/12.04")?.headers["docker-content-digest"]);

      // The recorded token was issued in 2023: its issued_at is ignored, expires_in counted from now.
      assert.equal(tokenQueries.length, 1);
      assert.equal(tokenQueries[0], new URL(tokenResponse?.url ?? "").search);
      assert.equal(unauthorized, 1);
    } finally {
      await client.close();
    }
  });
});
