/**
 * One token per scope set: a paginated listing and many manifest reads behind token auth
 * cost one token request. Uses a private registry + token server + paging front (sharing
 * the seeded storage) so the counts belong to this test alone.
 */
import * as assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { startPagingProxy, type PagingProxy } from "../harness/pager.js";
import { startRegistry, type RunningRegistry } from "../harness/registry.js";
import { collect } from "./helpers.js";

let env: TestEnvironment;
let registry: RunningRegistry;
let pager: PagingProxy;

before(async () => {
  env = await getTestEnvironment();
  registry = await startRegistry({ mode: "token", storageDir: env.token.storageDir });
  pager = await startPagingProxy({ upstream: registry.url, maxPage: 100 });
});
after(async () => {
  await pager?.close();
  await registry?.stop();
});

function adminClient(): RegistryClient {
  const admin = registry.tokenServer?.users.find((u) => u.role === "admin");
  assert.ok(admin);
  return new RegistryClient(pager.host, { dockerConfig: false, credentials: { kind: "basic", username: admin.username, password: admin.password } });
}

test("250 tags behind token auth: one token request, pages + 1 registry requests", async () => {
  const tokenServer = registry.tokenServer;
  assert.ok(tokenServer);
  tokenServer.reset();
  pager.reset();
  const client = adminClient();
  try {
    const tags = await collect(client.tags(env.token.seeded.tags.repository));
    assert.deepEqual(tags, env.token.seeded.tags.tags);
    const pages = Math.ceil(tags.length / 100);
    assert.equal(tokenServer.stats().count, 1, JSON.stringify(tokenServer.stats().requests));
    assert.deepEqual(tokenServer.stats().requests[0]?.scopes, [`repository:${env.token.seeded.tags.repository}:pull`]);
    assert.equal(pager.stats().tagPages, pages);
    // The first request meets the 401 that names the token server; every page after that carries the token.
    assert.equal(pager.stats().count, pages + 1, JSON.stringify(pager.stats().requests.map((r) => `${r.status} ${r.path}`)));
  } finally {
    await client.close();
  }
});

test("many manifest and blob reads in parallel share one token", async () => {
  const tokenServer = registry.tokenServer;
  assert.ok(tokenServer);
  tokenServer.reset();
  const client = adminClient();
  try {
    const seeded = env.token.seeded.multi;
    // Learn the challenge first, then fire everything at once: the cache must coalesce.
    await client.headManifest(seeded.repository, seeded.tag);
    const reads = seeded.manifests.flatMap((m) => [
      client.getManifest(seeded.repository, m.digest),
      client.headBlob(seeded.repository, m.config.digest),
      ...m.layers.map((l) => client.getBlobBytes(seeded.repository, l.digest)),
    ]);
    await Promise.all(reads);
    assert.equal(tokenServer.stats().count, 1);
  } finally {
    await client.close();
  }
});
