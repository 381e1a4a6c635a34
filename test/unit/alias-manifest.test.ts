/** python-dxf's alias manifests, the pure part: building them byte for byte as dxf does, reading blobs and platforms back. */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { digestOf } from "../../src/digest/digest.js";
import { InvalidDigestError, UsageError } from "../../src/errors.js";
import { aliasBlobs, aliasPlatforms, ALIAS_CONFIG_MEDIA_TYPE, ALIAS_LAYER_MEDIA_TYPE, buildAliasManifest, pythonJson } from "../../src/media/alias.js";
import { formatPlatform } from "../../src/ref/platform.js";
import { isImage, isIndex, parseManifest } from "../../src/media/manifest.js";
import { MediaType } from "../../src/media/types.js";

const blobs = ["first blob", "second, larger blob", "3"].map((text) => ({ digest: digestOf(text), size: Buffer.byteLength(text) }));

describe("buildAliasManifest", () => {
  it("writes a schema-2 manifest: the first blob as config, every blob a layer, in order", () => {
    const text = buildAliasManifest(blobs);
    const manifest = parseManifest(new TextEncoder().encode(text));
    assert.ok(isImage(manifest));
    assert.equal(manifest.mediaType, MediaType.DockerManifestV2);
    assert.equal(manifest.schemaVersion, 2);
    assert.deepEqual({ digest: manifest.config.digest, size: manifest.config.size, mediaType: manifest.config.mediaType }, { ...blobs[0], mediaType: ALIAS_CONFIG_MEDIA_TYPE });
    assert.deepEqual(
      manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      blobs.map((b) => ({ ...b, mediaType: ALIAS_LAYER_MEDIA_TYPE })),
    );
    assert.deepEqual(aliasBlobs(manifest), blobs, "read back, the same blobs in the same order");
  });

  it("is the text python's json.dumps(..., sort_keys=True) gives dxf's dict (the same digest as dxf's set_alias)", () => {
    const text = buildAliasManifest(blobs);
    const script = [
      "import json, sys",
      "blobs = json.load(sys.stdin)",
      "layers = [{'mediaType': 'application/octet-stream', 'size': b['size'], 'digest': b['digest']} for b in blobs]",
      "sys.stdout.write(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',",
      "  'config': {'mediaType': 'application/vnd.docker.container.image.v1+json', 'size': layers[0]['size'], 'digest': layers[0]['digest']},",
      "  'layers': layers}, sort_keys=True))",
    ].join("\n");
    const python = execFileSync("python3", ["-c", script], { input: JSON.stringify(blobs), encoding: "utf8" });
    assert.equal(text, python);
  });

  it("refuses no blobs, a bad digest and a bad size", () => {
    assert.throws(() => buildAliasManifest([]), UsageError);
    assert.throws(() => buildAliasManifest([{ digest: "sha256:abc", size: 1 }]), InvalidDigestError);
    assert.throws(() => buildAliasManifest([{ digest: digestOf("x"), size: -1 }]), UsageError);
  });

  it("pythonJson sorts keys at every level and separates with ', ' and ': '", () => {
    assert.equal(pythonJson({ b: [1, { d: "x", c: null }], a: true }), '{"a": true, "b": [1, {"c": null, "d": "x"}]}');
  });
});

describe("platform names", () => {
  it("os/architecture, and /variant when there is one", () => {
    assert.equal(formatPlatform({ os: "linux", architecture: "amd64" }), "linux/amd64");
    assert.equal(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
    assert.equal(formatPlatform({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" }), "windows/amd64");
  });

  it("a multi-arch alias lists its platforms in index order, without attestations or entries lacking a platform; the first of two names wins", () => {
    const entry = (text: string, platform?: object, annotations?: object) => ({
      mediaType: MediaType.DockerManifestV2,
      digest: digestOf(text),
      size: text.length,
      ...(platform ? { platform } : {}),
      ...(annotations ? { annotations } : {}),
    });
    const index = parseManifest(
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.DockerManifestList,
          manifests: [
            entry("a", { os: "linux", architecture: "arm64", variant: "v8" }),
            entry("b", { os: "linux", architecture: "amd64" }),
            entry("c", { os: "unknown", architecture: "unknown" }, { "vnd.docker.reference.type": "attestation-manifest" }),
            entry("d"),
            entry("e", { os: "linux", architecture: "amd64" }),
          ],
        }),
      ),
    );
    assert.ok(isIndex(index));
    const platforms = aliasPlatforms(index);
    assert.deepEqual([...platforms.keys()], ["linux/arm64/v8", "linux/amd64"]);
    assert.equal(platforms.get("linux/amd64")?.digest, digestOf("b"));
  });
});
