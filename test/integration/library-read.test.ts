/** The library's read path against the real distribution registry, in all three auth modes. */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { DockerConfigCredentials } from "../../src/auth/credentials.js";
import { digestOf } from "../../src/digest/digest.js";
import { NetworkError, PlatformNotFoundError, QuaysideError, RegistryError, UnexpectedMediaTypeError } from "../../src/errors.js";
import { Registry } from "../../src/image/image.js";
import { isIndex } from "../../src/media/manifest.js";
import { MediaType } from "../../src/media/types.js";
import { parsePlatform } from "../../src/ref/platform.js";
import { RegistryClient } from "../../src/registry/client.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { clientFor, collect, type Mode } from "./helpers.js";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

let env: TestEnvironment;
const clients: RegistryClient[] = [];
const track = (c: RegistryClient): RegistryClient => (clients.push(c), c);

before(async () => {
  env = await getTestEnvironment();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

async function rejectsWith(promise: Promise<unknown>, check: (err: QuaysideError) => void): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof QuaysideError, `expected a QuaysideError, got ${String(err)}`);
    check(err);
    return true;
  });
}

for (const mode of ["anonymous", "basic", "token"] as const satisfies readonly Mode[]) {
  describe(`read path, ${mode} registry`, () => {
    let client: RegistryClient;
    before(() => {
      client = track(clientFor(env, mode));
    });

    test("ping reports the API version", async () => {
      const result = await client.ping();
      assert.equal(result.apiVersion, "registry/2.0");
      assert.deepEqual(result.authSchemes, mode === "anonymous" ? [] : [mode === "basic" ? "basic" : "bearer"]);
      assert.equal(new URL(client.baseUrl).protocol, mode === "basic" ? "https:" : "http:");
    });

    test("single-platform OCI manifest: same digest and bytes as skopeo", async () => {
      const seeded = env[mode].seeded.single;
      const manifest = await client.getManifest(seeded.repository, seeded.tag);
      assert.equal(manifest.kind, "oci-manifest");
      assert.equal(manifest.digest, seeded.digest);
      assert.equal(manifest.digest, seeded.skopeoDigest);
      assert.equal(digestOf(manifest.bytes), seeded.digest);
      const head = await client.headManifest(seeded.repository, seeded.tag);
      assert.deepEqual(head, { mediaType: MediaType.OciManifest, digest: seeded.digest, size: manifest.bytes.length });
      const byDigest = await client.getManifest(seeded.repository, seeded.digest);
      assert.deepEqual(Buffer.from(byDigest.bytes), Buffer.from(manifest.bytes));
    });

    test("Docker schema 2 manifest", async () => {
      const seeded = env[mode].seeded.docker;
      const manifest = await client.getManifest(seeded.repository, seeded.tag);
      assert.equal(manifest.kind, "docker-v2");
      assert.equal(manifest.mediaType, MediaType.DockerManifestV2);
      assert.equal(manifest.digest, seeded.skopeoDigest);
    });

    test("multi-arch index: children and platform choice match what was pushed", async () => {
      const seeded = env[mode].seeded.multi;
      const index = await client.getManifest(seeded.repository, seeded.tag);
      assert.ok(isIndex(index));
      assert.equal(index.digest, seeded.skopeoDigest);
      assert.deepEqual(
        index.manifests.map((m) => m.digest),
        seeded.manifests.map((m) => m.digest),
      );
      const repository = new Registry(client).repository(seeded.repository);
      for (const child of seeded.manifests) {
        const platform = [child.platform.os, child.platform.architecture, child.platform.variant].filter(Boolean).join("/");
        const image = await repository.image(seeded.tag, { platform: parsePlatform(platform) });
        assert.equal(image.digest, child.digest, platform);
        assert.equal(image.manifest.config.digest, child.config.digest);
        const configBytes = await image.configBytes();
        assert.equal(digestOf(configBytes), child.config.digest);
        assert.equal(await image.platform(), platform);
      }
      // arm64 and arm64/v8 are the same platform.
      const arm64 = await repository.image(seeded.tag, { platform: parsePlatform("linux/arm64") });
      assert.equal(arm64.digest, seeded.manifests.find((m) => m.platform.architecture === "arm64")?.digest);
      await rejectsWith(repository.image(seeded.tag, { platform: parsePlatform("linux/s390x") }), (err) => {
        assert.ok(err instanceof PlatformNotFoundError);
        assert.equal(err.code, "PLATFORM_NOT_FOUND");
        assert.deepEqual([...err.available].sort(), ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"]);
      });
    });

    test("blobs: HEAD size, verified stream, bytes", async () => {
      const seeded = env[mode].seeded.single;
      const manifest = seeded.manifests[0];
      assert.ok(manifest);
      for (const layer of manifest.layers) {
        const head = await client.headBlob(seeded.repository, layer.digest);
        assert.equal(head.size, layer.size);
        const hash = createHash("sha256");
        let bytes = 0;
        for await (const chunk of await client.getBlob(seeded.repository, layer.digest, { expectedSize: layer.size })) {
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
        }
        assert.equal(`sha256:${hash.digest("hex")}`, layer.digest);
        assert.equal(bytes, layer.size);
      }
      assert.equal(await client.blobExists(seeded.repository, manifest.config.digest), true);
      assert.equal(await client.blobExists(seeded.repository, digestOf("not there")), false);
    });

    test("not found is told apart by code", async () => {
      await rejectsWith(client.getManifest("test/single", "no-such-tag"), (err) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.code, "MANIFEST_UNKNOWN");
        assert.equal(err.category, "not-found");
        assert.equal(err.status, 404);
        assert.equal(err.request.method, "GET");
        assert.match(err.request.url, /\/v2\/test\/single\/manifests\/no-such-tag$/);
      });
      await rejectsWith(client.getBlobBytes("test/single", digestOf("missing blob")), (err) => {
        assert.equal(err.code, "BLOB_UNKNOWN");
        assert.equal(err.category, "not-found");
      });
    });
  });
}

describe("manifest media type negotiation", () => {
  test("an explicit media type the server does not serve is a typed error", async () => {
    const client = track(clientFor(env, "anonymous"));
    const seeded = env.anonymous.seeded.docker;
    // distribution 2.8 answers a schema-2 image asked for as OCI with a signed schema-1 rewrite.
    await rejectsWith(client.getManifest(seeded.repository, seeded.tag, { accept: [MediaType.OciManifest] }), (err) => {
      assert.ok(err instanceof UnexpectedMediaTypeError);
      assert.equal(err.actual, MediaType.DockerManifestV1Signed);
      // Named, and the same category (exit code) as ManifestTypeError, its ops-level form.
      assert.ok(err.message.startsWith(`${seeded.repository}:${seeded.tag}: expected media type`), err.message);
      assert.equal(err.category, "not-found");
    });
    const exact = await client.getManifest(seeded.repository, seeded.tag, { accept: [MediaType.DockerManifestV2] });
    assert.equal(exact.kind, "docker-v2");
  });

  test("preference mode returns the first exact match, one request per type tried", async () => {
    const lines: string[] = [];
    const client = track(clientFor(env, "anonymous", { logger: (l) => lines.push(l) }));
    const order = [MediaType.DockerManifestList, MediaType.DockerManifestV2, MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestV1];
    const docker = env.anonymous.seeded.docker;
    const v2 = await client.getManifestPreferring(docker.repository, docker.tag, order);
    assert.equal(v2.mediaType, MediaType.DockerManifestV2);
    const manifestGets = lines.filter((l) => /^< \d+ GET .*\/manifests\//.test(l));
    assert.equal(manifestGets.length, 2, manifestGets.join("\n"));

    const multi = env.anonymous.seeded.multi;
    lines.length = 0;
    const index = await client.getManifestPreferring(multi.repository, multi.tag, order);
    assert.equal(index.mediaType, MediaType.OciIndex);
    assert.equal(index.digest, multi.digest);
    // list (404: distribution will not serve an OCI index as a list), v2s2 (rewritten), then the index.
    assert.equal(lines.filter((l) => /^< \d+ GET .*\/manifests\//.test(l)).length, 3);

    await rejectsWith(client.getManifestPreferring(multi.repository, "no-such-tag", order), (err) => assert.equal(err.code, "MANIFEST_UNKNOWN"));
  });
});

describe("listing", () => {
  test("catalog follows Link pages capped by catalog.maxentries", async () => {
    const lines: string[] = [];
    const client = track(clientFor(env, "anonymous", { logger: (l) => lines.push(l) }));
    const repositories = await collect(client.catalog());
    assert.deepEqual(repositories, [...env.anonymous.seeded.repositories].sort());
    assert.equal(new Set(repositories).size, repositories.length);
    const pages = lines.filter((l) => /^< 200 GET .*\/v2\/_catalog/.test(l)).length;
    assert.ok(pages >= Math.ceil(repositories.length / env.anonymous.catalogMaxEntries), `only ${pages} catalog pages`);
  });

  test("catalog with an explicit page size, and with one above the server's maximum", async () => {
    const client = track(clientFor(env, "anonymous"));
    const expected = [...env.anonymous.seeded.repositories].sort();
    assert.deepEqual(await collect(client.catalog({ pageSize: 7 })), expected);
    // distribution answers n > catalog.maxentries with PAGINATION_NUMBER_INVALID; the client falls back.
    assert.deepEqual(await collect(client.catalog({ pageSize: env.anonymous.catalogMaxEntries + 5 })), expected);
  });

  test("250 tags through a page-capping front come back whole, in order, once each", async () => {
    const host = new URL(env.pagers.anonymous.url).host;
    const client = track(new RegistryClient(host, { dockerConfig: false }));
    const tags = await collect(client.tags(env.anonymous.seeded.tags.repository));
    assert.deepEqual(tags, env.anonymous.seeded.tags.tags);
    assert.equal(tags.length, 250);
    const small = await collect(client.tags(env.anonymous.seeded.tags.repository, { pageSize: 40 }));
    assert.deepEqual(small, env.anonymous.seeded.tags.tags);
  });

  test("tags of the real registry (which ignores n) and of an empty result", async () => {
    const client = track(clientFor(env, "token"));
    const tags = await collect(client.tags(env.token.seeded.tags.repository));
    // distribution 2.8 lists tags in storage order, not sorted.
    assert.deepEqual([...tags].sort(), env.token.seeded.tags.tags);
    await rejectsWith(collect(client.tags("no/such-repo")), (err) => {
      assert.equal(err.code, "NAME_UNKNOWN");
      assert.equal(err.category, "not-found");
    });
  });
});

describe("basic auth over TLS", () => {
  test("the CA must be trusted: no CA is a certificate error, never a silent fallback", async () => {
    const client = track(new RegistryClient(env.basic.host, { dockerConfig: false, credentials: { kind: "basic", username: env.basic.username, password: env.basic.password } }));
    await rejectsWith(client.ping(), (err) => {
      assert.ok(err instanceof NetworkError);
      assert.equal(err.code, "TLS_CERTIFICATE");
    });
    const skipping = track(
      new RegistryClient(env.basic.host, {
        dockerConfig: false,
        tls: { insecureSkipVerify: true },
        credentials: { kind: "basic", username: env.basic.username, password: env.basic.password },
      }),
    );
    const manifest = await skipping.getManifest("test/single", "v1");
    assert.equal(manifest.digest, env.basic.seeded.single.digest);
  });

  test("wrong password and no credentials are unauthorized", async () => {
    const wrong = track(clientFor(env, "basic", { user: { username: env.basic.username, password: "wrong" } }));
    await rejectsWith(wrong.getManifest("test/single", "v1"), (err) => {
      assert.equal(err.code, "UNAUTHORIZED");
      assert.equal(err.category, "unauthorized");
    });
    const none = track(clientFor(env, "basic", { user: null }));
    await rejectsWith(none.getManifest("test/single", "v1"), (err) => assert.equal(err.category, "unauthorized"));
  });

  test("credentials from a Docker config.json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "quayside-dockercfg-"));
    try {
      const auth = Buffer.from(`${env.basic.username}:${env.basic.password}`).toString("base64");
      await writeFile(join(dir, "config.json"), JSON.stringify({ auths: { [`https://${env.basic.host}`]: { auth } } }));
      const client = track(
        new RegistryClient(env.basic.host, { tls: { caFile: env.basic.caFile }, credentials: new DockerConfigCredentials(join(dir, "config.json")) }),
      );
      assert.equal((await client.getManifest("test/multi", "v1")).digest, env.basic.seeded.multi.digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("token auth", () => {
  test("a read-only user reads", async () => {
    const reader = track(clientFor(env, "token", { user: env.token.users.reader }));
    assert.equal((await reader.getManifest("test/single", "v1")).digest, env.token.seeded.single.digest);
  });

  test("anonymous tokens reach public repositories only", async () => {
    const anonymous = track(clientFor(env, "token", { user: null }));
    const hello = env.token.seeded.hello;
    assert.equal((await anonymous.getManifest(hello.repository, hello.tag)).digest, hello.digest);
    await rejectsWith(anonymous.getManifest("test/single", "v1"), (err) => assert.equal(err.category, "unauthorized"));
  });

  test("a wrong password is refused by the token server", async () => {
    const wrong = track(clientFor(env, "token", { user: { username: env.token.users.admin.username, password: "nope" } }));
    await rejectsWith(wrong.getManifest("test/single", "v1"), (err) => assert.equal(err.category, "unauthorized"));
  });
});
