/**
 * Manifests recorded from Docker Hub (library/ubuntu 12.04 and 22.04): parsing real registry
 * bytes must give the kind the server announced and the digest the server computed.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { digestOf } from "../../src/digest/digest.js";
import { isIndex, manifestDigest, parseManifest, type Manifest } from "../../src/media/manifest.js";
import { MediaType, isManifestMediaType, normalizeMediaType } from "../../src/media/types.js";

interface RecordedResponse {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  sha256: string;
}

// Compiled to build/test/unit/, so the repository root is three directories up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const fixturePath = path.resolve(repoRoot, "..", "shared", "fixtures", "dockerhub-recorded", "ubuntu.json");

function loadResponses(): RecordedResponse[] {
  // Deliberately not guarded: a missing fixture must fail the suite, not skip it.
  const parsed: unknown = JSON.parse(readFileSync(fixturePath, "utf8"));
  assert.ok(typeof parsed === "object" && parsed !== null && "responses" in parsed, `${fixturePath}: no responses`);
  const responses = parsed.responses;
  assert.ok(Array.isArray(responses) && responses.length > 0, `${fixturePath}: responses must be a non-empty array`);
  return responses as RecordedResponse[];
}

const KIND_OF_MEDIA_TYPE: Record<string, Manifest["kind"]> = {
  [MediaType.OciIndex]: "oci-index",
  [MediaType.OciManifest]: "oci-manifest",
  [MediaType.DockerManifestList]: "docker-list",
  [MediaType.DockerManifestV2]: "docker-v2",
  [MediaType.DockerManifestV1]: "docker-v1",
  [MediaType.DockerManifestV1Signed]: "docker-v1",
};

const responses = loadResponses();
const manifestResponses = responses.filter(
  (r) => r.method === "GET" && r.status === 200 && /\/v2\/.+\/manifests\//.test(r.url) && isManifestMediaType(r.headers["content-type"] ?? ""),
);

function bodyBytes(r: RecordedResponse): Uint8Array {
  return new TextEncoder().encode(r.body);
}

describe("recorded Docker Hub manifests", () => {
  it("the recording holds the manifests this suite relies on", () => {
    assert.ok(manifestResponses.length >= 7, `found only ${manifestResponses.length} manifest responses in ${fixturePath}`);
    assert.ok(manifestResponses.some((r) => r.url.endsWith("/manifests/22.04")));
    assert.ok(manifestResponses.some((r) => r.url.endsWith("/manifests/12.04")));
  });

  for (const r of manifestResponses) {
    const contentType = r.headers["content-type"] ?? "";
    it(`${r.url.replace(/^.*\/manifests\//, "manifests/")} (${contentType})`, () => {
      const bytes = bodyBytes(r);
      // The recording is only meaningful if the body bytes are what the server hashed.
      assert.equal(bytes.byteLength, Number(r.headers["content-length"]), "content-length");
      const m = parseManifest(bytes, contentType);
      assert.equal(m.kind, KIND_OF_MEDIA_TYPE[normalizeMediaType(contentType)]);
      assert.equal(m.mediaType, normalizeMediaType(contentType));
      assert.equal(m.digest, r.headers["docker-content-digest"]);
      assert.equal(m.digest, r.sha256);
      assert.equal(manifestDigest(bytes, contentType), r.headers["docker-content-digest"]);
      // Schema 1 digests differ from the bytes' sha256; nothing else may.
      if (m.kind !== "docker-v1") assert.equal(m.digest, digestOf(bytes));
    });
  }

  it("the 22.04 index's children in the recording match their descriptors' digest and size", () => {
    const indexResponse = manifestResponses.find((r) => r.url.endsWith("/manifests/22.04"));
    assert.ok(indexResponse, "22.04 index not recorded");
    const index = parseManifest(bodyBytes(indexResponse), indexResponse.headers["content-type"]);
    assert.ok(isIndex(index), `22.04 is ${index.kind}, expected an index`);
    const byDigest = new Map(manifestResponses.map((r) => [r.headers["docker-content-digest"], r]));
    let checked = 0;
    for (const child of index.manifests) {
      const recorded = byDigest.get(child.digest);
      if (recorded === undefined) continue;
      const bytes = bodyBytes(recorded);
      assert.equal(bytes.byteLength, child.size, `${child.digest} size`);
      assert.equal(digestOf(bytes), child.digest);
      const parsed = parseManifest(bytes, recorded.headers["content-type"]);
      assert.equal(parsed.mediaType, child.mediaType, `${child.digest} media type`);
      checked++;
    }
    assert.ok(checked >= 1, "no child of the 22.04 index is in the recording");
  });
});
