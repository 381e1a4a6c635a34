// Smoke test of the test environment itself, with skopeo and plain fetch only (no quayside code):
// if this fails, every other integration test is suspect.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import {
  getTestEnvironment,
  pagerStats,
  resetPagerStats,
  tokenServerStats,
  type PagerInfo,
  type TestEnvironment,
} from "../harness/environment.js";
import { startPagingProxy } from "../harness/pager.js";
import { probe, startRegistry } from "../harness/registry.js";
import { skopeoCopy, skopeoDigest, skopeoInspectRaw, type Credentials } from "../harness/skopeo.js";

let env: TestEnvironment;
let scratch: string;

before(async () => {
  env = await getTestEnvironment();
  scratch = await mkdtemp(join(tmpdir(), "quayside-harness-test-"));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const basicAuth = (u: Credentials): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString("base64")}`;
const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function token(user: Credentials | null, scopes: string[]): Promise<string> {
  const url = new URL(env.token.tokenServer.realm);
  url.searchParams.set("service", env.token.tokenServer.service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  const res = await fetch(url, { headers: user ? { authorization: basicAuth(user) } : {} });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

describe("registries answer skopeo in every mode", () => {
  it("anonymous", async () => {
    const seeded = env.anonymous.seeded;
    for (const image of [seeded.single, seeded.docker, seeded.multi, seeded.hello]) {
      assert.equal(await skopeoDigest(env.anonymous, `${image.repository}:${image.tag}`, null), image.digest);
      assert.equal(image.skopeoDigest, image.digest);
    }
  });

  it("basic over TLS with the CA and credentials", async () => {
    const { single, multi } = env.basic.seeded;
    assert.match(env.basic.url, /^https:/);
    assert.equal(await skopeoDigest(env.basic, "test/single:v1", env.basic), single.digest);
    const raw = await skopeoInspectRaw(env.basic, "test/multi:v1", env.basic);
    assert.equal(raw.digest, multi.digest);
  });

  it("basic refuses a wrong password and no credentials", async () => {
    await assert.rejects(skopeoDigest(env.basic, "test/single:v1", { username: "admin", password: "wrong" }));
    await assert.rejects(skopeoDigest(env.basic, "test/single:v1", null));
  });

  it("token with admin and with reader", async () => {
    const { single, multi } = env.token.seeded;
    assert.equal(await skopeoDigest(env.token, "test/single:v1", env.token.users.admin), single.digest);
    assert.equal(await skopeoDigest(env.token, "test/multi:v1", env.token.users.reader), multi.digest);
  });

  it("token: a wrong password is refused, by skopeo and by the token server (401)", async () => {
    const wrong = { username: "admin", password: "wrong" };
    await assert.rejects(skopeoDigest(env.token, "test/single:v1", wrong));
    const url = `${env.token.tokenServer.realm}?service=${env.token.tokenServer.service}`;
    const res = await fetch(url, { headers: { authorization: basicAuth(wrong) } });
    assert.equal(res.status, 401);
  });

  it("token: reader's push is refused by the registry", async () => {
    const dest = `docker://${env.token.host}/test/reader-push:v1`;
    await assert.rejects(
      skopeoCopy(`oci:${env.ociLayout.dir}:single`, dest, { dest: { registry: env.token, creds: env.token.users.reader } }),
      /denied|unauthorized|authentication required/i,
    );
    // The token itself says why: reader asked for push and got only pull.
    const jwt = await token(env.token.users.reader, ["repository:test/reader-push:pull,push"]);
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      access: { name: string; actions: string[] }[];
      aud: string;
    };
    assert.deepEqual(claims.access, [{ type: "repository", name: "test/reader-push", actions: ["pull"] }]);
    assert.equal(claims.aud, env.token.tokenServer.service);
  });

  it("token: anonymous may pull public/* and nothing else", async () => {
    const { hello } = env.token.seeded;
    const layout = join(scratch, "hello-layout");
    await skopeoCopy(`docker://${env.token.host}/public/hello:latest`, `oci:${layout}:hello`, {
      src: { registry: env.token, creds: null },
    });
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, hello.digest);
    await assert.rejects(skopeoDigest(env.token, "test/single:v1", null));
  });

  it("token server records who asked for what", async () => {
    const since = Date.now();
    await skopeoDigest(env.token, "test/docker:v1", env.token.users.reader);
    const stats = await tokenServerStats(env);
    const mine = stats.requests.filter((r) => r.time >= since && r.account === "reader");
    assert.ok(mine.some((r) => r.scopes.includes("repository:test/docker:pull") && r.granted.length === 1));
    assert.ok(stats.count >= mine.length);
  });

  it("token server: OAuth2 password and refresh_token grants", async () => {
    const { realm, service } = env.token.tokenServer;
    const { admin } = env.token.users;
    const post = (form: Record<string, string>) =>
      fetch(realm, { method: "POST", body: new URLSearchParams({ service, client_id: "harness-test", ...form }) });
    const first = await post({ grant_type: "password", username: admin.username, password: admin.password, access_type: "offline" });
    assert.equal(first.status, 200);
    const { refresh_token } = (await first.json()) as { refresh_token?: string };
    assert.ok(refresh_token);
    const refreshed = await post({ grant_type: "refresh_token", refresh_token, scope: "repository:test/single:pull" });
    assert.equal(refreshed.status, 200);
    const body = (await refreshed.json()) as { access_token: string; scope: string; refresh_token: string };
    assert.equal(body.scope, "repository:test/single:pull");
    assert.equal(body.refresh_token, refresh_token);
    const manifest = await fetch(`${env.token.url}/v2/test/single/manifests/v1`, {
      headers: { authorization: `Bearer ${body.access_token}`, accept: env.token.seeded.single.mediaType },
    });
    assert.equal(manifest.status, 200);
    assert.equal(sha256(Buffer.from(await manifest.arrayBuffer())), env.token.seeded.single.digest);
    assert.equal((await post({ grant_type: "password", username: "admin", password: "wrong" })).status, 401);
  });
});

describe("paging proxy", () => {
  async function allPages(pager: PagerInfo, auth?: string): Promise<{ pages: string[][]; links: (string | null)[] }> {
    const pages: string[][] = [];
    const links: (string | null)[] = [];
    let next: string | null = "/v2/test/tags/tags/list";
    for (let i = 0; next && i < 10; i++) {
      const res = await fetch(`${pager.url}${next}`, { headers: auth ? { authorization: auth } : {} });
      assert.equal(res.status, 200);
      pages.push(((await res.json()) as { tags: string[] }).tags);
      const link = res.headers.get("link");
      links.push(link);
      next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null;
    }
    return { pages, links };
  }

  it("serves 250 tags in 3 sorted pages with Link headers", async () => {
    const { pages, links } = await allPages(env.pagers.anonymous);
    assert.deepEqual(pages.map((p) => p.length), [100, 100, 50]);
    assert.deepEqual(pages.flat(), env.anonymous.seeded.tags.tags);
    assert.deepEqual(links, [
      '</v2/test/tags/tags/list?n=100&last=t099>; rel="next"',
      '</v2/test/tags/tags/list?n=100&last=t199>; rel="next"',
      null,
    ]);
  });

  it("caps n at maxPage and honours smaller n and last", async () => {
    const res = await fetch(`${env.pagers.anonymous.url}/v2/test/tags/tags/list?n=7&last=t100`);
    assert.deepEqual(((await res.json()) as { tags: string[] }).tags, ["t101", "t102", "t103", "t104", "t105", "t106", "t107"]);
    assert.equal(res.headers.get("link"), '</v2/test/tags/tags/list?n=7&last=t107>; rel="next"');
    const big = await fetch(`${env.pagers.anonymous.url}/v2/test/tags/tags/list?n=1000`);
    assert.equal(((await big.json()) as { tags: string[] }).tags.length, 100);
  });

  it("forwards auth to the token registry, challenges included", async () => {
    const pager = env.pagers.token;
    const unauthenticated = await fetch(`${pager.url}/v2/test/tags/tags/list`);
    assert.equal(unauthenticated.status, 401);
    assert.match(unauthenticated.headers.get("www-authenticate") ?? "", /^Bearer realm="/);
    await resetPagerStats(pager);
    const jwt = await token(env.token.users.reader, ["repository:test/tags:pull"]);
    const { pages } = await allPages(pager, `Bearer ${jwt}`);
    assert.equal(pages.flat().length, 250);
    const stats = await pagerStats(pager);
    assert.equal(stats.tagPages, 3);
    // Other requests pass through unchanged.
    const manifest = await fetch(`${pager.url}/v2/test/single/manifests/v1`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${await token(env.token.users.reader, ["repository:test/single:pull"])}`, accept: env.token.seeded.single.mediaType },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get("docker-content-digest"), env.token.seeded.single.digest);
  });

  it("streams uploads through unchanged (skopeo pushes via the proxy)", async () => {
    const registry = await startRegistry({ mode: "anonymous" });
    const pager = await startPagingProxy({ upstream: registry.url, maxPage: 2 });
    try {
      const target = { host: pager.host, url: pager.url };
      await skopeoCopy(`oci:${env.ociLayout.dir}:multi`, `docker://${pager.host}/via/proxy:v1`, {
        dest: { registry: target, creds: null },
        all: true,
      });
      assert.equal(await skopeoDigest(registry, "via/proxy:v1", null), env.anonymous.seeded.multi.digest);
      const methods = new Set(pager.stats().requests.map((r) => r.method));
      for (const method of ["HEAD", "POST", "PUT"]) assert.ok(methods.has(method), method);
    } finally {
      await pager.close();
      await registry.stop();
    }
  });

  it("the real registry ignores n on tags/list and returns them unsorted", async () => {
    const res = await fetch(`${env.anonymous.url}/v2/test/tags/tags/list?n=5`);
    const tags = ((await res.json()) as { tags: string[] }).tags;
    assert.equal(tags.length, 250);
    assert.equal(res.headers.get("link"), null);
  });
});

describe("catalog", () => {
  it("anonymous registry pages are capped by catalog.maxentries, with Link headers", async () => {
    const max = env.anonymous.catalogMaxEntries;
    assert.equal(max, 10);
    const seen: string[] = [];
    let next: string | null = "/v2/_catalog";
    let pages = 0;
    for (; next && pages < 50; pages++) {
      const res = await fetch(`${env.anonymous.url}${next}`);
      assert.equal(res.status, 200);
      const repos = ((await res.json()) as { repositories: string[] }).repositories;
      assert.ok(repos.length <= max);
      seen.push(...repos);
      const link = res.headers.get("link");
      if (link) assert.equal(repos.length, max);
      next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null;
    }
    assert.ok(pages >= 4, `${pages} pages`);
    assert.deepEqual([...seen].sort(), seen);
    for (const repo of env.anonymous.seeded.repositories) assert.ok(seen.includes(repo), repo);
  });

  it("n above maxentries is an error in distribution 2.8", async () => {
    const res = await fetch(`${env.anonymous.url}/v2/_catalog?n=11`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /PAGINATION_NUMBER_INVALID/);
  });
});

describe("seeded data", () => {
  it("has the expected shapes", () => {
    const { single, docker, multi, tags, catalog } = env.anonymous.seeded;
    assert.equal(single.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(docker.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(multi.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(
      multi.manifests.map((m) => [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join("/")),
      ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
    );
    assert.equal(tags.tags.length, 250);
    assert.equal(catalog.length, 30);
  });

  it("OCI layout configs list the right diff_ids", async () => {
    for (const image of env.ociLayout.images) {
      for (const m of image.manifests) {
        const blob = (digest: string) => readFile(join(env.ociLayout.dir, "blobs", "sha256", digest.slice(7)));
        const config = JSON.parse((await blob(m.config.digest)).toString("utf8")) as { rootfs: { diff_ids: string[] } };
        const diffIds = await Promise.all(m.layers.map(async (l) => sha256(gunzipSync(await blob(l.digest)))));
        assert.deepEqual(config.rootfs.diff_ids, diffIds);
      }
    }
  });
});

describe("lifecycle", () => {
  it("a stopped registry refuses connections and its storage is gone", async () => {
    const registry = await startRegistry({ mode: "anonymous" });
    assert.equal(await probe(`${registry.url}/v2/`), 200);
    await registry.stop();
    await assert.rejects(fetch(`${registry.url}/v2/`), (error: unknown) => {
      const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
      return cause?.code === "ECONNREFUSED";
    });
    await assert.rejects(stat(registry.storageDir));
  });

  it("a second registry can share storage, and stopping it leaves that storage alone", async () => {
    const twin = await startRegistry({ mode: "anonymous", storageDir: env.anonymous.storageDir, deleteEnabled: false });
    try {
      const res = await fetch(`${twin.url}/v2/test/single/manifests/v1`, {
        method: "HEAD",
        headers: { accept: env.anonymous.seeded.single.mediaType },
      });
      assert.equal(res.headers.get("docker-content-digest"), env.anonymous.seeded.single.digest);
    } finally {
      await twin.stop();
    }
    await stat(env.anonymous.storageDir);
    assert.equal(await probe(`${env.anonymous.url}/v2/`), 200);
  });
});
