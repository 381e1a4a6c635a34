/**
 * The Quay REST client, quay:// parsing and discovery, against the Quay fixture (Quay's quirks
 * as /work/shared/quay-api.md describes them).
 */
import * as assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NotFoundError, ProtocolError, QuayApiError, UsageError, InvalidReferenceError, InsecureRequestError } from "../../src/errors.js";
import { QuayClient, parseQuayUrl, type QuayClientOptions } from "../../src/quay/client.js";
import { discover, inShard, parseShard, type DiscoveredImage } from "../../src/quay/discover.js";
import { literalPrefix, parseQuayRepository, parseQuayUri } from "../../src/quay/uri.js";
import { QuayFixture } from "../harness/quay-fixture.js";

const DIGEST = (n: number): string => `sha256:${n.toString(16).padStart(64, "0")}`;
const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const day = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 10);

let quay: QuayFixture;
const clients: QuayClient[] = [];
const client = (options: QuayClientOptions = {}): QuayClient => {
  const made = new QuayClient({ url: quay.url, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 50, rateLimitBudgetMs: 2_000 }, ...options });
  clients.push(made);
  return made;
};

before(async () => {
  quay = await QuayFixture.start({
    users: [
      { token: "kolla-admin", name: "admin", grants: { kolla: "admin", private: "admin" } },
      { token: "kolla-reader", name: "reader", grants: { kolla: "read", private: "read" } },
      { token: "outsider", name: "outsider", grants: { elsewhere: "read" } },
    ],
    jitterMs: 15,
  });
  // 230 repositories: three pages; created out of alphabetical order.
  for (let i = 229; i >= 0; i--) quay.addRepository("big", { name: `r${String(i).padStart(3, "0")}`, public: true });
  // kolla: nova-* with dated tags, an expired one, one expiring in the future, and others.
  const services = ["nova-api", "nova-compute", "nova-scheduler", "glance-api", "keystone"];
  services.forEach((name, i) =>
    quay.addRepository("kolla", {
      name,
      public: true,
      tags: [
        { name: "latest", digest: DIGEST(100 + i), start: NOW - 2 * DAY },
        { name: "2025.1", digest: DIGEST(200 + i), start: NOW - 40 * DAY },
        { name: "2025.2", digest: DIGEST(300 + i), start: NOW - DAY },
        { name: "2024.2", digest: DIGEST(400 + i), start: NOW - 200 * DAY },
        { name: "2025.0", digest: DIGEST(500 + i), start: NOW - 300 * DAY, end: NOW - 100 * DAY },
        { name: "2025.3-rc", digest: DIGEST(600 + i), start: NOW - 3 * DAY, end: NOW + 5 * DAY },
      ],
    }),
  );
  quay.addRepository("kolla", { name: "nova-old", public: true, tags: [{ name: "2023.1", digest: DIGEST(700), start: NOW - 900 * DAY }] });
  quay.addRepository("kolla", { name: "nova-empty", public: true });
  quay.addRepository("kolla", { name: "nova-hidden", public: false, tags: [{ name: "latest", digest: DIGEST(800), start: NOW - DAY }] });
  quay.addRepository("private", { name: "app", public: false, tags: [{ name: "latest", digest: DIGEST(900), start: NOW - DAY }] });
  quay.addRepository("kolla", { name: "many", public: true, tags: Array.from({ length: 150 }, (_, i) => ({ name: `v${String(i).padStart(3, "0")}`, digest: DIGEST(1000 + i), start: NOW - i })) });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await quay.close();
});

describe("quay:// and names", () => {
  test("host by Docker's rule, org, glob, tag (a name or a glob), since", () => {
    assert.deepEqual(parseQuayUri("quay://kolla"), { text: "quay://kolla", host: undefined, namespace: "kolla", repositories: undefined, tag: "latest", tagIsGlob: false, since: undefined });
    const full = parseQuayUri("quay://quay.io/kolla/nova-*:2025.*?since=2025-01-31");
    assert.equal(full.host, "quay.io");
    assert.equal(full.repositories, "nova-*");
    assert.equal(full.tag, "2025.*");
    assert.equal(full.tagIsGlob, true);
    assert.equal(full.since, "2025-01-31");
    assert.equal(parseQuayUri("quay://kolla:2025.1").tag, "2025.1");
    assert.equal(parseQuayUri("quay://kolla:2025.1").host, undefined);
    assert.equal(parseQuayUri("quay://127.0.0.1:8080/kolla").host, "127.0.0.1:8080");
    assert.equal(parseQuayUri("quay://localhost/kolla/a/b").repositories, "a/b");
    for (const bad of ["quay://", "quay://Kolla", "quay://kolla/", "quay://kolla:", "quay://kolla?since=2025-02-30", "quay://kolla?until=2025-01-01", "quay://kolla:bad tag", "kolla"]) {
      assert.throws(() => parseQuayUri(bad), (err: unknown) => err instanceof UsageError || err instanceof InvalidReferenceError, bad);
    }
    assert.equal(literalPrefix("2025.*"), "2025.");
    assert.equal(literalPrefix("*-rc"), "");
    assert.equal(literalPrefix("{a,b}*"), "");
  });

  test("ORG/REPO[:TAG]: destructive commands need the tag", () => {
    assert.deepEqual(parseQuayRepository("quay.example.com/org/team/app:v1", "required"), { host: "quay.example.com", namespace: "org", repository: "team/app", tag: "v1" });
    assert.throws(() => parseQuayRepository("org/app", "required"), /tag .*is missing/);
    assert.throws(() => parseQuayRepository("org/app:v1", "forbidden"), /not expected/);
    assert.throws(() => parseQuayRepository("app", "optional"), /expected ORG\/REPO/);
  });

  test("the base URL: https by default, plain HTTP only for loopback or when asked", () => {
    assert.deepEqual(parseQuayUrl("https://quay.io", false), { host: "quay.io", scheme: "https" });
    assert.deepEqual(parseQuayUrl("quay.example.com:8443", false), { host: "quay.example.com:8443", scheme: "https" });
    assert.deepEqual(parseQuayUrl("127.0.0.1:8080", false), { host: "127.0.0.1:8080", scheme: undefined });
    assert.deepEqual(parseQuayUrl("http://127.0.0.1:8080", false), { host: "127.0.0.1:8080", scheme: "http" });
    assert.throws(() => parseQuayUrl("http://quay.example.com", false), InsecureRequestError);
    assert.deepEqual(parseQuayUrl("http://quay.example.com", true), { host: "quay.example.com", scheme: "http" });
    assert.throws(() => parseQuayUrl("https://quay.io/api/v1", false), UsageError);
  });

  test("shards: I/N parsed strictly", () => {
    assert.deepEqual(parseShard("2/8"), { index: 2, count: 8 });
    for (const bad of ["0/2", "3/2", "1/0", "a/b", "1"]) assert.throws(() => parseShard(bad), UsageError, bad);
  });
});

describe("repositories", () => {
  test("every page (creation order), public=true, the next_page cursor passed back URL-encoded", async () => {
    quay.resetRequests();
    const names = await client().listRepositories("big");
    assert.equal(names.length, 230);
    assert.equal(names[0], "r229");
    assert.equal(new Set(names).size, 230);
    const paths = quay.requestsTo("api").map((r) => new URL(r.path, "http://x"));
    assert.equal(paths.length, 3);
    assert.ok(paths.every((u) => u.searchParams.get("public") === "true" && u.searchParams.get("namespace") === "big"));
    assert.match(paths[1]?.search ?? "", /next_page=gAAAAA[^&]*%3D/);
  });

  test("a cursor that expired mid-listing ends it with an error instead of looping from page one", async () => {
    const listed: string[] = [];
    const err = await (async () => {
      for await (const repo of client().repositories("big")) {
        listed.push(repo.name);
        if (listed.length === 100) quay.expireCursors();
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof ProtocolError, String(err));
    assert.match(err.message, /came back to big\/r229, already listed/);
    assert.equal(listed.length, 100);
  });

  test("an unknown or private organization lists as empty without a token, and in full with one", async () => {
    assert.deepEqual(await client().listRepositories("private"), []);
    assert.deepEqual(await client().listRepositories("nobody"), []);
    assert.deepEqual(await client({ token: "kolla-reader" }).listRepositories("private"), ["app"]);
    quay.resetRequests();
    await client({ token: "kolla-reader" }).listRepositories("private");
    assert.equal(quay.requestsTo("api")[0]?.auth, "Bearer");
  });
});

describe("tags", () => {
  test("one tag: its digest and times in one request; absent is undefined; hasTag", async () => {
    const c = client();
    quay.resetRequests();
    const tag = await c.tag("kolla", "nova-api", "2025.3-rc");
    assert.equal(tag?.manifestDigest, DIGEST(600));
    assert.equal(tag?.endTs, NOW + 5 * DAY);
    assert.equal(tag?.startTs, NOW - 3 * DAY);
    const [request] = quay.requestsTo("api");
    assert.equal(quay.requestsTo("api").length, 1);
    const query = new URL(request?.path ?? "", "http://x").searchParams;
    assert.deepEqual([query.get("specificTag"), query.get("onlyActiveTags"), query.get("limit")], ["2025.3-rc", "true", "1"]);
    assert.match(request?.path ?? "", /\/tag\/\?/);
    assert.equal(await c.tag("kolla", "nova-api", "2025.0"), undefined, "expired");
    assert.equal(await c.hasTag("kolla", "nova-api", "latest"), true);
    assert.equal(await c.hasTag("kolla", "nova-api", "nope"), false);
    // A namespace member asking after a missing repository gets a 404: false, not an error.
    assert.equal(await client({ token: "kolla-reader" }).hasTag("kolla", "gone", "latest"), false);
  });

  test("a GET without the trailing slash: Quay's 308 to the slash form is followed, query kept", async () => {
    const c = client();
    const res = await c.http.request({ method: "GET", url: `${quay.url}/api/v1/repository/kolla/nova-api/tag?specificTag=latest&onlyActiveTags=true` });
    assert.equal(res.status, 200);
    assert.equal(res.url, `${quay.url}/api/v1/repository/kolla/nova-api/tag/?specificTag=latest&onlyActiveTags=true`);
    const body = (await res.json()) as { tags: { name: string; manifest_digest: string }[] };
    assert.deepEqual(body.tags.map((t) => [t.name, t.manifest_digest]), [["latest", DIGEST(100)]]);
  });

  test("401 and 403 are errors that say which permission is missing and how to pass a token", async () => {
    const anonymous = await client().hasTag("kolla", "nova-hidden", "latest").catch((e: unknown) => e);
    assert.ok(anonymous instanceof QuayApiError, String(anonymous));
    assert.equal(anonymous.category, "unauthorized");
    assert.match(anonymous.message, /kolla\/nova-hidden is private or does not exist .*--quay-token or QUAY_TOKEN/);
    const denied = await client({ token: "outsider" }).hasTag("kolla", "nova-hidden", "latest").catch((e: unknown) => e);
    assert.ok(denied instanceof QuayApiError);
    assert.equal(denied.category, "denied");
    assert.match(denied.message, /no read permission on kolla\/nova-hidden/);
  });

  test("all tags page by page (limit=100, has_additional), active only unless asked, a like: filter", async () => {
    quay.resetRequests();
    const names: string[] = [];
    for await (const tag of client().tags("kolla", "many")) names.push(tag.name);
    assert.equal(names.length, 150);
    assert.equal(names[0], "v000", "newest first");
    assert.equal(quay.requestsTo("api").length, 2);
    const active: string[] = [];
    for await (const tag of client().tags("kolla", "nova-api")) active.push(tag.name);
    assert.deepEqual(active, ["2025.2", "latest", "2025.3-rc", "2025.1", "2024.2"].sort((a, b) => order(a) - order(b)));
    const all: string[] = [];
    for await (const tag of client().tags("kolla", "nova-api", { all: true })) all.push(tag.name);
    assert.ok(all.includes("2025.0"));
    const filtered: string[] = [];
    for await (const tag of client().tags("kolla", "nova-api", { filter: { like: "2025." } })) filtered.push(tag.name);
    assert.deepEqual(filtered.sort(), ["2025.1", "2025.2", "2025.3-rc"]);
  });
});

/** Tags of nova-api by start time descending. */
function order(name: string): number {
  return ["2025.2", "latest", "2025.3-rc", "2025.1", "2024.2"].indexOf(name);
}

describe("changes", () => {
  test("delete a tag (404: already gone), set a tag, delete a repository; anonymous and read-only callers are told why not", async () => {
    quay.addRepository("kolla", { name: "scratch", public: true, tags: [{ name: "a", digest: DIGEST(1), start: NOW - 10 }, { name: "b", digest: DIGEST(2), start: NOW - 5 }] });
    const admin = client({ token: "kolla-admin" });
    const anonymous = await client().deleteTag("kolla", "scratch", "a").catch((e: unknown) => e);
    assert.ok(anonymous instanceof QuayApiError);
    assert.match(anonymous.message, /needs a token with write permission on kolla\/scratch/);
    const reader = await client({ token: "kolla-reader" }).deleteTag("kolla", "scratch", "a").catch((e: unknown) => e);
    assert.ok(reader instanceof QuayApiError);
    assert.match(reader.message, /no write permission on kolla\/scratch/);
    assert.equal(await admin.deleteTag("kolla", "scratch", "a"), "deleted");
    assert.equal(await admin.deleteTag("kolla", "scratch", "a"), "absent");
    await admin.setTag("kolla", "scratch", "a", DIGEST(2));
    assert.equal(quay.activeTag("kolla", "scratch", "a")?.digest, DIGEST(2));
    await assert.rejects(admin.setTag("kolla", "scratch", "a", DIGEST(3)), NotFoundError);
    await admin.deleteRepository("kolla", "scratch");
    assert.equal(quay.hasRepository("kolla", "scratch"), false);
    await admin.deleteRepository("kolla", "scratch");
  });
});

describe("retries and rate", () => {
  test("429 without Retry-After is backed off on our own clock; past the budget, a clear error", async () => {
    quay.failNext(429, 4, /namespace=kolla/);
    assert.ok((await client().listRepositories("kolla")).length > 0);
    quay.failNext(429, 1000, /namespace=kolla/);
    const started = Date.now();
    const err = await client({ retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 40, rateLimitBudgetMs: 300 } }).listRepositories("kolla").catch((e: unknown) => e);
    assert.ok(Date.now() - started >= 300);
    assert.ok(err instanceof QuayApiError, String(err));
    assert.equal(err.status, 429);
    assert.match(err.message, /kept answering 429/);
    quay.clearFaults();
  });

  test("5xx is retried; a --rate spaces requests", async () => {
    quay.failNext(500, 2, /namespace=kolla/);
    assert.ok((await client().listRepositories("kolla")).length > 0);
    quay.failNext(500, 10, /namespace=kolla/);
    const err = await client().listRepositories("kolla").catch((e: unknown) => e);
    quay.clearFaults();
    assert.ok(err instanceof QuayApiError && err.status === 500, String(err));
    const rated = client({ rate: 20 });
    const started = Date.now();
    for (let i = 0; i < 5; i++) await rated.hasTag("kolla", "keystone", "latest");
    assert.ok(Date.now() - started >= 190, `${Date.now() - started} ms`);
  });
});

describe("discovery", () => {
  const refs = (images: DiscoveredImage[]): string[] => images.map((i) => `${i.repository}:${i.tag}`);

  test("a repository glob and one tag: sorted, with the digest and times Quay reported", async () => {
    const c = client();
    const { images, repositories } = await discover(c, parseQuayUri(`quay://${quay.host}/kolla/nova-*:latest`));
    assert.deepEqual(refs(images), ["nova-api:latest", "nova-compute:latest", "nova-scheduler:latest"]);
    assert.equal(images[0]?.reference, `${quay.host}/kolla/nova-api:latest`);
    assert.equal(images[0]?.digest, DIGEST(100));
    assert.equal(images[0]?.started, new Date((NOW - 2 * DAY) * 1000).toISOString());
    assert.equal(repositories.matched, 5);
  });

  test("a tag glob lists tags (narrowed with filter_tag_name): active ones, future expirations included", async () => {
    quay.resetRequests();
    const { images } = await discover(client(), parseQuayUri("quay://kolla/nova-a*:2025.*"));
    assert.deepEqual(refs(images), ["nova-api:2025.1", "nova-api:2025.2", "nova-api:2025.3-rc"]);
    const tagQueries = quay.requestsTo("api").filter((r) => r.path.includes("/tag/"));
    assert.ok(tagQueries.every((r) => new URL(r.path, "http://x").searchParams.get("filter_tag_name") === "like:2025."));
    assert.equal(images[2]?.expires, new Date((NOW + 5 * DAY) * 1000).toISOString());
  });

  test("since: older tags dropped, and repositories modified before it never asked for their tags", async () => {
    quay.resetRequests();
    const { images } = await discover(client(), parseQuayUri(`quay://kolla/nova-*:*?since=${day(NOW - 30 * DAY)}`));
    assert.deepEqual(refs(images), [
      "nova-api:2025.2", "nova-api:2025.3-rc", "nova-api:latest",
      "nova-compute:2025.2", "nova-compute:2025.3-rc", "nova-compute:latest",
      "nova-scheduler:2025.2", "nova-scheduler:2025.3-rc", "nova-scheduler:latest",
    ]);
    const asked = quay.requestsTo("api").filter((r) => r.path.includes("/tag/")).map((r) => r.path.split("/")[5]);
    assert.deepEqual([...new Set(asked)].sort(), ["nova-api", "nova-compute", "nova-scheduler"]);
    assert.ok(quay.requestsTo("api").some((r) => r.path.includes("last_modified=true")));
  });

  test("no match and an empty organization are empty results; without a token, a note about private organizations", async () => {
    const notes: string[] = [];
    assert.deepEqual((await discover(client(), parseQuayUri("quay://kolla/zzz-*"), { onNote: (n) => notes.push(n) })).images, []);
    assert.equal(notes.length, 0);
    assert.deepEqual((await discover(client(), parseQuayUri("quay://private"), { onNote: (n) => notes.push(n) })).images, []);
    assert.equal(notes.length, 1);
    assert.match(notes[0] ?? "", /private organization needs a token \(--quay-token or QUAY_TOKEN\)/);
    const withToken = await discover(client({ token: "kolla-reader" }), parseQuayUri("quay://private"));
    assert.deepEqual(refs(withToken.images), ["app:latest"]);
  });

  test("concurrency does not change the result: -j 1 and -j 8 agree, whatever the completion order", async () => {
    const uri = parseQuayUri("quay://kolla:2025.*");
    const one = await discover(client(), uri, { jobs: 1 });
    const eight = await discover(client(), uri, { jobs: 8 });
    assert.ok(one.images.length >= 12);
    assert.deepEqual(eight.images, one.images);
  });

  test("shards are disjoint and complete, and split on ORG/REPO:TAG whatever the host", async () => {
    const whole = (await discover(client(), parseQuayUri("quay://kolla:*"))).images.map((i) => i.reference);
    assert.ok(whole.length > 20);
    const parts = [];
    for (let index = 1; index <= 3; index++) parts.push((await discover(client(), parseQuayUri("quay://kolla:*"), { shard: { index, count: 3 } })).images.map((i) => i.reference));
    assert.deepEqual(parts.flat().sort(), [...whole].sort());
    assert.equal(new Set(parts.flat()).size, whole.length);
    assert.ok(parts.every((p) => p.length > 0));
    // A single tag: the shard is decided before the tag query, so other shards cost nothing.
    quay.resetRequests();
    const latest = await discover(client(), parseQuayUri("quay://big"), { shard: { index: 1, count: 4 } });
    assert.equal(latest.images.length, 0);
    const tagQueries = quay.requestsTo("api").filter((r) => r.path.includes("/tag/")).length;
    assert.ok(tagQueries > 20 && tagQueries < 120, `${tagQueries} tag queries for a quarter of 230`);
    assert.equal(inShard("a", "b", "c", { index: 1, count: 1 }), true);
  });
});
