/**
 * pubtools-quay's registry calls, as quayside does them, against the real registry: the
 * strict-type and preference-order manifest reads (getManifest / getDigest with `mediaType` or
 * `preference`), a manifest put from raw bytes (putManifest), tag listing, the image-URL parser,
 * and ManifestListMerger's merge (mergeIndex and `quayside index merge`), with skopeo as judge.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  check,
  ClientPool,
  copy,
  DigestMismatchError,
  getDigest,
  getManifest,
  InvalidReferenceError,
  listTags,
  MANIFEST_PREFERENCE_ORDER,
  ManifestTypeError,
  MediaType,
  mergeIndex,
  parseExplicitReference,
  putManifest,
  type MergeIndexReport,
} from "../../src/index.js";
import { getTestEnvironment, type TestEnvironment } from "../harness/environment.js";
import { writeOciLayout } from "../harness/oci-layout.js";
import { skopeoCopy, skopeoInspectRaw, type RegistryAccess } from "../harness/skopeo.js";
import { collect, runCli } from "./helpers.js";

let env: TestEnvironment;
let workDir: string;
let registry: RegistryAccess;
const options = { configFiles: false, retry: { retries: 1, baseDelayMs: 10 } } as const;

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

interface ListJson {
  mediaType: string;
  manifests: { digest: string; mediaType: string; size: number; platform: { os: string; architecture: string; variant?: string } }[];
}
const parseList = (bytes: Uint8Array): ListJson => JSON.parse(Buffer.from(bytes).toString("utf8")) as ListJson;

/** Push an image of the test layout to NAME (repository:tag) with skopeo: as a Docker manifest list, or as the OCI index it is. */
async function push(layoutTag: string, name: string, format: "v2s2" | "oci"): Promise<{ digest: string; list: ListJson; bytes: Buffer }> {
  await skopeoCopy(`oci:${workDir}/layout:${layoutTag}`, `docker://${registry.host}/${name}`, { dest: { registry, creds: null }, all: true, format });
  const raw = await skopeoInspectRaw(registry, name, null);
  return { digest: raw.digest, list: parseList(raw.bytes), bytes: raw.bytes };
}

async function rejectsWith(promise: Promise<unknown>, check: (err: unknown) => void): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    check(err);
    return true;
  });
}

before(async () => {
  env = await getTestEnvironment();
  registry = { host: env.anonymous.host, url: env.anonymous.url };
  workDir = await mkdtemp(join(tmpdir(), "quayside-pubtools-"));
  // src: amd64 + arm64; dst: amd64 (other content, so another digest) + s390x.
  await writeOciLayout(join(workDir, "layout"), {
    images: [
      { tag: "src", platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }] },
      { tag: "dst", platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "s390x" }] },
      { tag: "lone", platforms: [{ os: "linux", architecture: "ppc64le" }] },
    ],
  });
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("strict-type fetch (get_manifest(media_type=...))", () => {
  test("the type asked for, exactly: the manifest; another type: a ManifestTypeError naming both", async () => {
    const docker = env.anonymous.seeded.docker;
    const found = await getManifest(docker.reference, { ...options, mediaType: MediaType.DockerManifestV2 });
    assert.equal(found.mediaType, MediaType.DockerManifestV2);
    assert.equal(found.digest, docker.digest);
    assert.equal(sha256(found.bytes), docker.digest);

    // distribution answers a schema-2 image asked for as OCI with a schema-1 rewrite: not what was asked.
    await rejectsWith(getManifest(docker.reference, { ...options, mediaType: MediaType.OciManifest }), (err) => {
      assert.ok(err instanceof ManifestTypeError);
      assert.equal(err.code, "MANIFEST_TYPE_MISMATCH");
      assert.equal(err.category, "not-found");
      assert.deepEqual(err.expected, [MediaType.OciManifest]);
      assert.deepEqual(err.actual, [MediaType.DockerManifestV1Signed]);
      assert.ok(err.message.includes(docker.reference), err.message);
    });
  });

  test("an OCI index asked for as a Docker list (distribution: 404) is a ManifestTypeError with the real type; a missing tag stays not-found", async () => {
    const multi = env.anonymous.seeded.multi;
    assert.equal((await getDigest(multi.reference, { ...options, mediaType: MediaType.OciIndex })).digest, multi.digest);
    await rejectsWith(getDigest(multi.reference, { ...options, mediaType: MediaType.DockerManifestList }), (err) => {
      assert.ok(err instanceof ManifestTypeError);
      assert.deepEqual(err.actual, [MediaType.OciIndex]);
    });
    await rejectsWith(getManifest(`${env.anonymous.host}/${multi.repository}:no-such-tag`, { ...options, mediaType: MediaType.OciIndex }), (err) => {
      assert.ok(!(err instanceof ManifestTypeError));
      assert.equal((err as { code?: string }).code, "MANIFEST_UNKNOWN");
    });
  });

  test("an OCI layout holds one type: asking for another is the same error", async () => {
    const location = `oci:${env.ociLayout.dir}:single`;
    assert.equal((await getManifest(location, { mediaType: MediaType.OciManifest })).mediaType, MediaType.OciManifest);
    await rejectsWith(getManifest(location, { mediaType: MediaType.DockerManifestV2 }), (err) => {
      assert.ok(err instanceof ManifestTypeError);
      assert.deepEqual(err.actual, [MediaType.OciManifest]);
    });
  });
});

describe("preference-order fetch (get_manifest() without a type)", () => {
  test("pubtools' order: list, schema 2, OCI index, OCI manifest, schema 1; the first the image has, one GET per type tried", async () => {
    assert.deepEqual(MANIFEST_PREFERENCE_ORDER, [MediaType.DockerManifestList, MediaType.DockerManifestV2, MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestV1]);
    const lines: string[] = [];
    const pool = new ClientPool({ ...options, logger: (line) => lines.push(line) });
    const gets = (): number => lines.filter((l) => /^< \d+ GET .*\/manifests\//.test(l)).length;
    try {
      const list = await push("src", "pubtools/preference:list", "v2s2");
      const cases = [
        { reference: `${registry.host}/pubtools/preference:list`, mediaType: MediaType.DockerManifestList, digest: list.digest, requests: 1 },
        { reference: env.anonymous.seeded.docker.reference, mediaType: MediaType.DockerManifestV2, digest: env.anonymous.seeded.docker.digest, requests: 2 },
        // list (404), schema 2 (a rewrite), then the OCI index.
        { reference: env.anonymous.seeded.multi.reference, mediaType: MediaType.OciIndex, digest: env.anonymous.seeded.multi.digest, requests: 3 },
      ];
      for (const expected of cases) {
        lines.length = 0;
        const found = await getManifest(expected.reference, { pool, preference: MANIFEST_PREFERENCE_ORDER });
        assert.equal(found.mediaType, expected.mediaType, expected.reference);
        assert.equal(found.digest, expected.digest);
        assert.equal(gets(), expected.requests, lines.join("\n"));
        // get_manifest_digest: the sha256 of what that fetch returns.
        const digest = await getDigest(expected.reference, { pool, preference: MANIFEST_PREFERENCE_ORDER });
        assert.equal(digest.digest, sha256(found.bytes));
        assert.equal(digest.mediaType, expected.mediaType);
      }
      await rejectsWith(getManifest(env.anonymous.seeded.docker.reference, { pool, preference: [MediaType.DockerManifestList, MediaType.OciIndex] }), (err) => {
        assert.ok(err instanceof ManifestTypeError);
        assert.deepEqual(err.expected, [MediaType.DockerManifestList, MediaType.OciIndex]);
      });
    } finally {
      await pool.close();
    }
  });
});

describe("upload_manifest(raw=True): putManifest keeps the bytes", () => {
  test("re-indented bytes are stored as given: their sha256 is the digest served, skopeo reads the same bytes", async () => {
    const single = env.anonymous.seeded.single;
    await copy(single.reference, `${registry.host}/pubtools/raw:orig`, options);
    const original = await getManifest(`${registry.host}/pubtools/raw:orig`, options);
    const indented = Buffer.from(`${JSON.stringify(JSON.parse(Buffer.from(original.bytes).toString("utf8")), null, 3)}\n`);
    assert.notEqual(sha256(indented), original.digest);

    const result = await putManifest(`${registry.host}/pubtools/raw:indented`, indented, options);
    assert.equal(result.digest, sha256(indented));
    assert.equal(result.mediaType, original.mediaType);
    assert.equal(result.tag, "indented");
    const served = await skopeoInspectRaw(registry, "pubtools/raw:indented", null);
    assert.deepEqual(served.bytes, indented);
    assert.equal((await getDigest(`${registry.host}/pubtools/raw:indented`, options)).digest, sha256(indented));

    // A string is taken as its UTF-8 bytes; by digest, the digest must be that of the bytes.
    const compact = Buffer.from(original.bytes).toString("utf8");
    assert.equal((await putManifest(`${registry.host}/pubtools/raw@${original.digest}`, compact, options)).digest, original.digest);
    await assert.rejects(putManifest(`${registry.host}/pubtools/raw@${original.digest}`, indented, options), DigestMismatchError);
    await assert.rejects(putManifest(`${registry.host}/pubtools/raw`, indented, options), InvalidReferenceError);
  });
});

describe("get_repository_tags and the image-URL parser", () => {
  test("listTags gives every tag (pubtools: {name, tags})", async () => {
    const seeded = env.anonymous.seeded.tags;
    assert.deepEqual((await collect(listTags(`${env.pagers.anonymous.host}/${seeded.repository}`, options))).sort(), seeded.tags);
  });

  test("parseExplicitReference: host/ns/repo:tag, @digest, an error when neither is given", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const tagged = parseExplicitReference("quay.io/ns/repo:tag");
    assert.deepEqual([tagged.registry, tagged.repository, tagged.tag, tagged.digest], ["quay.io", "ns/repo", "tag", undefined]);
    const pinned = parseExplicitReference(`quay.io/ns/repo@${digest}`);
    assert.deepEqual([pinned.registry, pinned.repository, pinned.tag, pinned.digest, pinned.reference], ["quay.io", "ns/repo", undefined, digest, digest]);
    const ported = parseExplicitReference("localhost:5000/ns/sub/repo:1.0");
    assert.deepEqual([ported.registry, ported.repository, ported.tag], ["localhost:5000", "ns/sub/repo", "1.0"]);
    // Both: the digest is what is fetched (pubtools would split "repo:tag@digest" wrongly).
    const both = parseExplicitReference(`quay.io/ns/repo:tag@${digest}`);
    assert.deepEqual([both.tag, both.reference], ["tag", digest]);
    // Neither: an error (pubtools: ValueError "Neither tag nor digest were found in the image").
    assert.throws(() => parseExplicitReference("quay.io/ns/repo"), (err: unknown) => err instanceof InvalidReferenceError && err.part === "tag");
    // No host: Docker's rule (docker.io), where pubtools drops the first component whatever it is.
    const hostless = parseExplicitReference("ns/repo:tag");
    assert.deepEqual([hostless.registry, hostless.repository], ["docker.io", "ns/repo"]);
  });
});

describe("ManifestListMerger: mergeIndex", () => {
  /** The source's two entries, then the destination's s390x, each as written in its own list. */
  function expectMerged(report: MergeIndexReport, src: ListJson, dst: ListJson, merged: ListJson): void {
    const s390x = dst.manifests.find((m) => m.platform.architecture === "s390x");
    const dstAmd64 = dst.manifests.find((m) => m.platform.architecture === "amd64");
    assert.ok(s390x && dstAmd64);
    assert.deepEqual(merged.manifests, [...src.manifests, s390x]);
    assert.deepEqual(report.fromSource.map((e) => e.digest), src.manifests.map((m) => m.digest));
    assert.deepEqual(report.fromDestination.map((e) => e.digest), [s390x.digest]);
    assert.deepEqual(report.replaced.map((e) => e.digest), [dstAmd64.digest]);
    assert.notEqual(dstAmd64.digest, src.manifests[0]?.digest);
  }

  for (const format of ["v2s2", "oci"] as const) {
    test(`src amd64+arm64 into dst amd64(other)+s390x (${format === "v2s2" ? "Docker manifest lists" : "OCI indexes"}): src's two + dst's s390x, children unchanged`, async () => {
      const src = await push("src", `pubtools/merge-src-${format}:v1`, format);
      const dst = await push("dst", `pubtools/merge-dst-${format}:v1`, format);
      const destination = `${registry.host}/pubtools/merge-dst-${format}:v1`;
      const report = await mergeIndex(`${registry.host}/pubtools/merge-src-${format}:v1`, destination, options);

      const served = await skopeoInspectRaw(registry, `pubtools/merge-dst-${format}:v1`, null);
      assert.equal(served.digest, report.digest);
      assert.equal(served.mediaType, format === "v2s2" ? MediaType.DockerManifestList : MediaType.OciIndex);
      assert.equal(report.mediaType, served.mediaType);
      assert.equal(report.previousDigest, dst.digest);
      assert.equal(report.sourceDigest, src.digest);
      expectMerged(report, src.list, dst.list, parseList(served.bytes));
      // The source's children lived in another repository: copied (mounted) first, every one present now.
      assert.deepEqual(report.copied.map((e) => e.digest), src.list.manifests.map((m) => m.digest));
      assert.equal((await check(destination, options)).complete, true);
      for (const child of [...src.list.manifests, ...dst.list.manifests.filter((m) => m.platform.architecture === "s390x")]) {
        assert.equal((await getDigest(`${registry.host}/pubtools/merge-dst-${format}@${child.digest}`, options)).digest, child.digest);
      }
      // Again: nothing to do.
      const again = await mergeIndex(`${registry.host}/pubtools/merge-src-${format}:v1`, destination, options);
      assert.equal(again.unchanged, true);
      assert.equal(again.digest, report.digest);
    });
  }

  test("no destination yet: it gets the source's list, digest unchanged", async () => {
    const src = await push("src", "pubtools/merge-new-src:v1", "v2s2");
    const report = await mergeIndex(`${registry.host}/pubtools/merge-new-src:v1`, `${registry.host}/pubtools/merge-new-dst:v1`, options);
    assert.equal(report.previousDigest, undefined);
    assert.equal(report.digest, src.digest);
    assert.equal((await skopeoInspectRaw(registry, "pubtools/merge-new-dst:v1", null)).digest, src.digest);
  });

  test("a single image at the destination (or as the source) is a ManifestTypeError; nothing is written", async () => {
    await push("src", "pubtools/merge-single:list", "v2s2");
    await skopeoCopy(`oci:${workDir}/layout:lone`, `docker://${registry.host}/pubtools/merge-single:lone`, { dest: { registry, creds: null }, format: "v2s2" });
    const lone = await skopeoInspectRaw(registry, "pubtools/merge-single:lone", null);
    await rejectsWith(mergeIndex(`${registry.host}/pubtools/merge-single:list`, `${registry.host}/pubtools/merge-single:lone`, options), (err) => {
      assert.ok(err instanceof ManifestTypeError);
      assert.deepEqual(err.actual, [MediaType.DockerManifestV2]);
    });
    assert.equal((await skopeoInspectRaw(registry, "pubtools/merge-single:lone", null)).digest, lone.digest);
    await rejectsWith(mergeIndex(`${registry.host}/pubtools/merge-single:lone`, `${registry.host}/pubtools/merge-single:list`, options), (err) => assert.ok(err instanceof ManifestTypeError));
    // The tag to move must be written out.
    await rejectsWith(mergeIndex(`${registry.host}/pubtools/merge-single:list`, `${registry.host}/pubtools/merge-single`, options), (err) => assert.ok(err instanceof InvalidReferenceError));
  });

  test("quayside index merge SRC DST: text, and --json with the same report", async () => {
    const src = await push("src", "pubtools/cli-src:v1", "v2s2");
    const dst = await push("dst", "pubtools/cli-dst:v1", "v2s2");
    await push("dst", "pubtools/cli-dst:v2", "v2s2");
    const source = `${registry.host}/pubtools/cli-src:v1`;

    const text = await runCli(["index", "merge", source, `${registry.host}/pubtools/cli-dst:v1`]);
    assert.equal(text.code, 0, text.stderr);
    const merged = await skopeoInspectRaw(registry, "pubtools/cli-dst:v1", null);
    const lines = text.out.trimEnd().split("\n");
    assert.equal(lines[0], `${registry.host}/pubtools/cli-dst:v1 -> ${merged.digest} (was ${dst.digest})`);
    const s390x = dst.list.manifests.find((m) => m.platform.architecture === "s390x");
    assert.ok(s390x);
    assert.ok(lines.some((l) => l.includes("linux/s390x") && l.includes(s390x.digest)), text.out);
    for (const child of src.list.manifests) assert.ok(text.out.includes(child.digest), text.out);

    const json = await runCli(["--json", "index", "merge", source, `${registry.host}/pubtools/cli-dst:v2`]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.out) as MergeIndexReport;
    const mergedV2 = await skopeoInspectRaw(registry, "pubtools/cli-dst:v2", null);
    assert.equal(report.digest, mergedV2.digest);
    // The same inputs give the same bytes, whichever tag they were merged into.
    assert.equal(report.digest, merged.digest);
    expectMerged(report, src.list, dst.list, parseList(mergedV2.bytes));
    assert.deepEqual(report.copied, []);

    const bad = await runCli(["index", "merge", source, `${registry.host}/pubtools/cli-dst`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^quayside: invalid reference .*tag is missing: name the tag/);
  });
});
