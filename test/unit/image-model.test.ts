/**
 * Repository / Image (src/image/image.ts): platform selection from an index, the config, the size.
 * They read through a RegistryClient today, so a small read-only fake registry on 127.0.0.1
 * serves images built in memory (digests from node:crypto); once they sit on a Store, a
 * MemoryStore replaces the fake and the assertions stay.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PlatformNotFoundError } from "../../src/errors.js";
import { Registry, type Repository } from "../../src/image/image.js";
import { parsePlatform } from "../../src/ref/platform.js";
import { MemoryStore } from "../../src/store/memory.js";
import { ARM64, layer, multiArch, seed, sha256, singleImage, type Content } from "../harness/memory-images.js";

const REPOSITORY = "team/app";

/** GET /v2/REPOSITORY/manifests/{tag|digest} and /blobs/{digest} (those in `blobs`) from a MemoryStore; 404 otherwise. */
async function serve(store: MemoryStore, blobs: ReadonlyMap<string, Content>): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? "");
      try {
        if (req.method !== "GET" || match?.[1] !== REPOSITORY) throw new Error("not here");
        const descriptor = match[2] === "manifests" ? await store.resolve(decodeURIComponent(match[3] as string)) : blobs.get(match[3] as string)?.descriptor;
        if (descriptor === undefined) throw new Error("not here");
        const chunks: Buffer[] = [];
        for await (const chunk of await store.fetch(descriptor)) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        res.writeHead(200, { "content-type": descriptor.mediaType, "content-length": String(body.length), "docker-content-digest": descriptor.digest });
        res.end(body);
      } catch {
        const text = JSON.stringify({ errors: [{ code: match?.[2] === "blobs" ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN", message: "unknown", detail: null }] });
        res.writeHead(404, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
        res.end(text);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("image model: Repository and Image", () => {
  const multi = multiArch();
  const single = singleImage({ os: "linux", architecture: "s390x" }, ["one", "two"], "docker");
  let server: Server;
  let registry: Registry;
  let repository: Repository;

  before(async () => {
    const store = new MemoryStore();
    await seed(store, multi, "multi");
    await seed(store, single, "single");
    const blobs = new Map<string, Content>([...multi.blobs, ...single.blobs].map((b) => [b.descriptor.digest, b]));
    server = await serve(store, blobs);
    registry = new Registry(`127.0.0.1:${(server.address() as AddressInfo).port}`, { plainHttp: true, dockerConfig: false });
    repository = registry.repository(REPOSITORY);
  });
  after(async () => {
    await registry.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("from an index, the image of the platform asked for (arm64 taken as arm64/v8), with the index and its entry", async () => {
    const image = await repository.image("multi", { platform: parsePlatform("linux/arm64") });
    assert.equal(image.digest, sha256(multi.arm64.bytes));
    assert.equal(image.index?.digest, sha256(multi.root.bytes));
    assert.deepEqual(image.descriptor?.platform, ARM64);
    assert.deepEqual(
      image.layers.map((l) => l.digest),
      [sha256(multi.shared.bytes), sha256(multi.arm64Only.bytes)],
    );
  });

  it("a platform the index lacks: PlatformNotFoundError listing what it has", async () => {
    await assert.rejects(repository.image("multi", { platform: parsePlatform("linux/riscv64") }), (err: unknown) => {
      assert.ok(err instanceof PlatformNotFoundError);
      assert.deepEqual([...err.available].sort(), ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"]);
      return true;
    });
  });

  it("the config: its exact bytes, parsed, and the platform it names", async () => {
    const image = await repository.image("multi", { platform: parsePlatform("linux/arm/v7") });
    assert.deepEqual(Buffer.from(await image.configBytes()), multi.configs[2].bytes);
    const config = await image.config();
    assert.equal(config.os, "linux");
    assert.equal(config.architecture, "arm");
    assert.equal(config.variant, "v7");
    assert.equal(config.created, "2024-01-02T03:04:05Z");
    assert.deepEqual(config.config?.["Cmd"], ["/bin/sh"]);
    assert.equal(await image.platform(), "linux/arm/v7");
  });

  it("size: the manifest, the config and every layer as stored (a non-distributable one included)", async () => {
    const image = await repository.image("multi", { platform: parsePlatform("linux/amd64") });
    // layer() is deterministic: the same seed gives multiArch's amd64-only layer.
    const parts: Content[] = [multi.amd64, multi.configs[0], multi.shared, multi.foreign, layer("amd64")];
    assert.equal(image.size, parts.reduce((sum, p) => sum + p.bytes.length, 0));
  });

  it("a single Docker image: no index, its own platform from its config", async () => {
    const image = await repository.image("single", { platform: parsePlatform("linux/amd64") });
    assert.equal(image.digest, sha256(single.root.bytes));
    assert.equal(image.index, undefined);
    assert.equal(await image.platform(), "linux/s390x");
    assert.equal(image.size, single.root.bytes.length + single.blobs.reduce((sum, b) => sum + b.bytes.length, 0));
  });
});
