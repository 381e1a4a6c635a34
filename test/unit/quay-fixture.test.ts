/**
 * The Quay fixture keeps Quay's quirks (/work/shared/quay-api.md): if it did not, the client's
 * tests would prove nothing. Plain HTTP requests, no quayside code.
 */
import * as assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { QuayFixture, quayDate } from "../harness/quay-fixture.js";

const DIGEST = (n: number): string => `sha256:${n.toString(16).padStart(64, "0")}`;
const t0 = Math.floor(Date.now() / 1000) - 100_000;

let quay: QuayFixture;

before(async () => {
  quay = await QuayFixture.start({
    users: [
      { token: "member-token", name: "member", grants: { acme: "admin" } },
      { token: "outsider-token", name: "outsider", grants: { other: "read" } },
      { token: "reader-token", name: "reader", grants: { "acme/secret": "read" } },
    ],
  });
  for (let i = 0; i < 230; i++) quay.addRepository("big", { name: `r${String(i).padStart(3, "0")}`, public: true });
  quay.addRepository("acme", {
    name: "app",
    public: true,
    tags: [
      { name: "old", digest: DIGEST(1), start: t0, end: t0 + 10 },
      { name: "b", digest: DIGEST(2), start: t0 + 20 },
      { name: "a", digest: DIGEST(3), start: t0 + 20 },
      { name: "soon", digest: DIGEST(4), start: t0 + 30, end: Math.floor(Date.now() / 1000) + 3600 },
    ],
  });
  quay.addRepository("acme", { name: "secret", public: false, tags: [{ name: "latest", digest: DIGEST(5), start: t0 }] });
});
after(() => quay.close());

const get = async (path: string, token?: string, method = "GET"): Promise<{ status: number; body: unknown; headers: Headers; text: string }> => {
  const res = await fetch(`${quay.url}${path}`, { method, redirect: "manual", headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers, text };
};

interface RepoPage {
  repositories: { name: string; is_public: boolean; last_modified?: number | null; is_starred?: boolean }[];
  next_page?: string;
}

describe("repository listing", () => {
  test("pages of 100 in creation order; next_page absent (not null) on the last page", async () => {
    const names: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const { body } = await get(`/api/v1/repository?namespace=big&public=true${next ? `&next_page=${encodeURIComponent(next)}` : ""}`);
      const page = body as RepoPage;
      pages++;
      names.push(...page.repositories.map((r) => r.name));
      next = page.next_page;
      if (next !== undefined) assert.match(next, /^gAAAAA/);
      else assert.equal("next_page" in page, false);
    } while (next !== undefined && pages < 10);
    assert.equal(pages, 3);
    assert.equal(names.length, 230);
    assert.equal(new Set(names).size, 230);
  });

  test("an invalid or expired cursor silently restarts at page one", async () => {
    const first = (await get("/api/v1/repository?namespace=big&public=true")).body as RepoPage;
    const garbled = (await get("/api/v1/repository?namespace=big&public=true&next_page=gAAAAAgarbage")).body as RepoPage;
    assert.deepEqual(garbled.repositories[0], first.repositories[0]);
    const cursor = first.next_page ?? "";
    quay.expireCursors();
    const expired = (await get(`/api/v1/repository?namespace=big&public=true&next_page=${encodeURIComponent(cursor)}`)).body as RepoPage;
    assert.deepEqual(expired.repositories[0], first.repositories[0]);
  });

  test("anonymous: empty without public=true, public only with it; a private or unknown org is empty, never 401", async () => {
    assert.deepEqual((await get("/api/v1/repository?namespace=acme")).body, { repositories: [] });
    const anon = (await get("/api/v1/repository?namespace=acme&public=true")).body as RepoPage;
    assert.deepEqual(anon.repositories.map((r) => r.name), ["app"]);
    assert.equal(anon.repositories[0]?.is_starred, undefined);
    const unknown = await get("/api/v1/repository?namespace=nobody&public=1");
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.body, { repositories: [] });
    // An unknown token is anonymous, not a 401.
    assert.equal((await get("/api/v1/repository?namespace=acme&public=true", "bogus")).status, 200);
    const member = (await get("/api/v1/repository?namespace=acme", "member-token")).body as RepoPage;
    assert.deepEqual(member.repositories.map((r) => r.name), ["app", "secret"]);
    assert.equal(member.repositories[0]?.is_starred, false);
  });

  test("booleans are truthy, one of namespace/public/starred is required, starred while anonymous is a bare 400", async () => {
    assert.equal(((await get("/api/v1/repository?namespace=acme&public=FALSE")).body as RepoPage).repositories.length, 0);
    assert.equal(((await get("/api/v1/repository?namespace=acme&public=yes")).body as RepoPage).repositories.length, 1);
    const missing = await get("/api/v1/repository");
    assert.equal(missing.status, 400);
    assert.equal((missing.body as { error_type: string }).error_type, "invalid_request");
    const starred = await get("/api/v1/repository?starred=true");
    assert.equal(starred.status, 400);
    assert.equal(starred.text, "");
  });

  test("last_modified only when asked: the newest start of the alive tags", async () => {
    const plain = (await get("/api/v1/repository?namespace=acme&public=true")).body as RepoPage;
    assert.equal("last_modified" in (plain.repositories[0] ?? {}), false);
    const asked = (await get("/api/v1/repository?namespace=acme&public=true&last_modified=true")).body as RepoPage;
    assert.equal(asked.repositories[0]?.last_modified, t0 + 30);
    const empty = (await get("/api/v1/repository?namespace=big&public=true&last_modified=true")).body as RepoPage;
    assert.equal(empty.repositories[0]?.last_modified, null);
  });
});

interface TagPage {
  tags: { name: string; manifest_digest: string; start_ts: number; last_modified: string; end_ts?: number; expiration?: string }[];
  page: number;
  has_additional: boolean;
}

describe("tags", () => {
  test("ordered by start time descending then name; expired tags only without onlyActiveTags; future expirations are active", async () => {
    const all = (await get("/api/v1/repository/acme/app/tag/")).body as TagPage;
    assert.deepEqual(all.tags.map((t) => t.name), ["soon", "a", "b", "old"]);
    const active = (await get("/api/v1/repository/acme/app/tag/?onlyActiveTags=true")).body as TagPage;
    assert.deepEqual(active.tags.map((t) => t.name), ["soon", "a", "b"]);
    const soon = active.tags[0];
    assert.equal(typeof soon?.end_ts, "number");
    assert.equal(soon?.expiration, quayDate(soon?.end_ts ?? 0));
    assert.match(active.tags[1]?.last_modified ?? "", /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/);
    assert.equal("end_ts" in (active.tags[1] ?? {}), false);
  });

  test("limit is clamped to 1..100, page starts at 1, has_additional says more; bad integers are a framework 400", async () => {
    const one = (await get("/api/v1/repository/acme/app/tag/?limit=0&page=-3")).body as TagPage;
    assert.equal(one.tags.length, 1);
    assert.equal(one.page, 1);
    assert.equal(one.has_additional, true);
    const big = (await get("/api/v1/repository/acme/app/tag/?limit=1000")).body as TagPage;
    assert.equal(big.tags.length, 4);
    assert.equal(big.has_additional, false);
    const bad = await get("/api/v1/repository/acme/app/tag/?limit=ten");
    assert.equal(bad.status, 400);
    assert.ok(typeof (bad.body as { message: unknown }).message === "object");
  });

  test("specificTag, filter_tag_name like:/eq: (without a colon a 400)", async () => {
    const specific = (await get("/api/v1/repository/acme/app/tag/?specificTag=a&onlyActiveTags=true&limit=1")).body as TagPage;
    assert.deepEqual(specific.tags.map((t) => [t.name, t.manifest_digest]), [["a", DIGEST(3)]]);
    assert.deepEqual(((await get("/api/v1/repository/acme/app/tag/?filter_tag_name=like:OO")).body as TagPage).tags.map((t) => t.name), ["soon"]);
    assert.deepEqual(((await get("/api/v1/repository/acme/app/tag/?filter_tag_name=eq:b")).body as TagPage).tags.map((t) => t.name), ["b"]);
    assert.equal((await get("/api/v1/repository/acme/app/tag/?filter_tag_name=b")).status, 400);
  });

  test("a GET without the trailing slash is a 308 to the slash form, query kept", async () => {
    const res = await get("/api/v1/repository/acme/app/tag?limit=1");
    assert.equal(res.status, 308);
    assert.equal(res.headers.get("location"), "/api/v1/repository/acme/app/tag/?limit=1");
  });

  test("permission before existence: 401 anonymous (private or missing), 403 without permission, 404 only with namespace read", async () => {
    assert.equal((await get("/api/v1/repository/acme/secret/tag/")).status, 401);
    const missing = await get("/api/v1/repository/acme/gone/tag/");
    assert.equal(missing.status, 401);
    assert.equal((missing.body as { error_type: string }).error_type, "invalid_token");
    const forbidden = await get("/api/v1/repository/acme/secret/tag/", "outsider-token");
    assert.equal(forbidden.status, 403);
    assert.equal((forbidden.body as { error_type: string }).error_type, "insufficient_scope");
    assert.equal((await get("/api/v1/repository/acme/gone/tag/", "reader-token")).status, 403);
    assert.equal((await get("/api/v1/repository/acme/gone/tag/", "member-token")).status, 404);
    assert.equal((await get("/api/v1/repository/acme/secret/tag/", "reader-token")).status, 200);
  });
});

describe("changes", () => {
  test("delete a tag: 401 anonymous even when public, 403 read-only, 204, then 404; the tag stays in the history", async () => {
    quay.addRepository("acme", { name: "del", public: true, tags: [{ name: "x", digest: DIGEST(9), start: t0 }] });
    assert.equal((await get("/api/v1/repository/acme/del/tag/x", undefined, "DELETE")).status, 401);
    assert.equal((await get("/api/v1/repository/acme/del/tag/x", "outsider-token", "DELETE")).status, 403);
    assert.equal((await get("/api/v1/repository/acme/del/tag/x", "member-token", "DELETE")).status, 204);
    assert.equal((await get("/api/v1/repository/acme/del/tag/x", "member-token", "DELETE")).status, 404);
    const history = (await get("/api/v1/repository/acme/del/tag/?specificTag=x")).body as TagPage;
    assert.equal(history.tags.length, 1);
    assert.equal(typeof history.tags[0]?.end_ts, "number");
  });

  test("PUT a tag: 201 \"Updated\" for a known manifest, 404 for an unknown one; the old entry ends", async () => {
    quay.addRepository("acme", { name: "put", public: true, tags: [{ name: "v1", digest: DIGEST(10), start: t0 }, { name: "v2", digest: DIGEST(11), start: t0 + 1 }] });
    const put = (digest: string) =>
      fetch(`${quay.url}/api/v1/repository/acme/put/tag/v1`, { method: "PUT", headers: { authorization: "Bearer member-token", "content-type": "application/json" }, body: JSON.stringify({ manifest_digest: digest }) });
    const moved = await put(DIGEST(11));
    assert.equal(moved.status, 201);
    assert.equal(await moved.json(), "Updated");
    assert.equal(quay.activeTag("acme", "put", "v1")?.digest, DIGEST(11));
    assert.equal((await put(DIGEST(99))).status, 404);
  });

  test("delete a repository: admin only, 204 also when it does not exist", async () => {
    quay.addRepository("acme", { name: "doomed", public: true });
    assert.equal((await get("/api/v1/repository/acme/doomed", "outsider-token", "DELETE")).status, 403);
    assert.equal((await get("/api/v1/repository/acme/doomed", "member-token", "DELETE")).status, 204);
    assert.equal(quay.hasRepository("acme", "doomed"), false);
    assert.equal((await get("/api/v1/repository/acme/doomed", "member-token", "DELETE")).status, 204);
  });

  test("429 with an HTML body and no Retry-After; unknown routes are an HTML 404", async () => {
    quay.failNext(429, 1, /\/api\//);
    const limited = await get("/api/v1/repository?namespace=acme&public=true");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), null);
    assert.match(limited.text, /<html>/);
    const unknown = await get("/api/v1/nothing");
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get("content-type") ?? "", /html/);
  });
});

describe("/v2/", () => {
  const token = async (scope: string, password?: string): Promise<string> => {
    const res = await fetch(`${quay.url}/v2/auth?service=${quay.host}&scope=${encodeURIComponent(scope)}`, {
      headers: password ? { authorization: `Basic ${Buffer.from(`$oauthtoken:${password}`).toString("base64")}` } : {},
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ["token"]);
    return body.token as string;
  };

  test("every request needs a token; unknown and unreadable repositories are 401 UNAUTHORIZED, not NAME_UNKNOWN", async () => {
    const ping = await get("/v2/");
    assert.equal(ping.status, 401);
    assert.equal(ping.headers.get("www-authenticate"), `Bearer realm="${quay.url}/v2/auth",service="${quay.host}"`);
    const bare = await get("/v2/acme/app/tags/list");
    assert.equal(bare.status, 401);
    assert.match(bare.headers.get("www-authenticate") ?? "", /scope="repository:acme\/app:pull"/);
    for (const repo of ["acme/gone", "acme/secret"]) {
      const res = await get(`/v2/${repo}/tags/list`, await token(`repository:${repo}:pull`));
      assert.equal(res.status, 401);
      assert.equal((res.body as { errors: { code: string }[] }).errors[0]?.code, "UNAUTHORIZED");
    }
    assert.equal((await get("/v2/acme/secret/tags/list", await token("repository:acme/secret:pull", "reader-token"))).status, 200);
  });

  test("tags/list pages by at most 100 with a relative Link, from the same tag table as the REST API", async () => {
    quay.addRepository("acme", { name: "many", public: true, tags: Array.from({ length: 150 }, (_, i) => ({ name: `t${String(i).padStart(3, "0")}`, digest: DIGEST(i), start: t0 + i })) });
    const bearer = await token("repository:acme/many:pull");
    const first = await get("/v2/acme/many/tags/list?n=500", bearer);
    assert.equal((first.body as { tags: string[] }).tags.length, 100);
    assert.equal(first.headers.get("link"), '</v2/acme/many/tags/list?n=100&last=t099>; rel="next"');
    const second = await get("/v2/acme/many/tags/list?n=100&last=t099", bearer);
    assert.equal((second.body as { tags: string[] }).tags.length, 50);
    assert.equal(second.headers.get("link"), null);
  });
});
