import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { digestOf } from "../../src/digest/digest.js";
import { ManifestError } from "../../src/errors.js";
import {
  isImage,
  isIndex,
  manifestDigest,
  parseImageConfig,
  parseManifest,
  referencedDescriptors,
  type Manifest,
} from "../../src/media/manifest.js";
import { MediaType } from "../../src/media/types.js";

const enc = new TextEncoder();
const bytesOf = (value: unknown): Uint8Array => enc.encode(JSON.stringify(value, null, 2));
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, "0")}`;

/**
 * A real signed schema 1 manifest (pretty JWS), byte for byte: containers/image
 * internal/manifest/testdata/v2s1.manifest.json (Apache-2.0). containers/image records its digest as
 * sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000 (TestDockerV2S1ManifestDigest),
 * computed by their own libtrust-based code, so it checks our payload rebuilding independently.
 */
const SIGNED_V1_MANIFEST = [
  "{",
  "   \"schemaVersion\": 1,",
  "   \"name\": \"mitr/busybox\",",
  "   \"tag\": \"latest\",",
  "   \"architecture\": \"amd64\",",
  "   \"fsLayers\": [",
  "      {",
  "         \"blobSum\": \"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\"",
  "      },",
  "      {",
  "         \"blobSum\": \"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\"",
  "      },",
  "      {",
  "         \"blobSum\": \"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\"",
  "      }",
  "   ],",
  "   \"history\": [",
  "      {",
  "         \"v1Compatibility\": \"{\\\"id\\\":\\\"f1b5eb0a1215f663765d509b6cdf3841bc2bcff0922346abb943d1342d469a97\\\",\\\"parent\\\":\\\"594075be8d003f784074cc639d970d1fa091a8197850baaae5052c01564ac535\\\",\\\"created\\\":\\\"2016-03-03T11:29:44.222098366Z\\\",\\\"container\\\":\\\"c0924f5b281a1992127d0afc065e59548ded8880b08aea4debd56d4497acb17a\\\",\\\"container_config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":[\\\"/bin/sh\\\",\\\"-c\\\",\\\"#(nop) LABEL Checksum=4fef81d30f31f9213c642881357e6662846a0f884c2366c13ebad807b4031368  ./tests/test-images/Dockerfile.2\\\"],\\\"Image\\\":\\\"594075be8d003f784074cc639d970d1fa091a8197850baaae5052c01564ac535\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":{\\\"Checksum\\\":\\\"4fef81d30f31f9213c642881357e6662846a0f884c2366c13ebad807b4031368  ./tests/test-images/Dockerfile.2\\\",\\\"Name\\\":\\\"atomic-test-2\\\"}},\\\"docker_version\\\":\\\"1.8.2-fc22\\\",\\\"author\\\":\\\"\\\\\\\"William Temple \\\\u003cwtemple at redhat dot com\\\\u003e\\\\\\\"\\\",\\\"config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":null,\\\"Image\\\":\\\"594075be8d003f784074cc639d970d1fa091a8197850baaae5052c01564ac535\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":{\\\"Checksum\\\":\\\"4fef81d30f31f9213c642881357e6662846a0f884c2366c13ebad807b4031368  ./tests/test-images/Dockerfile.2\\\",\\\"Name\\\":\\\"atomic-test-2\\\"}},\\\"architecture\\\":\\\"amd64\\\",\\\"os\\\":\\\"linux\\\",\\\"Size\\\":0}\\n\"",
  "      },",
  "      {",
  "         \"v1Compatibility\": \"{\\\"id\\\":\\\"594075be8d003f784074cc639d970d1fa091a8197850baaae5052c01564ac535\\\",\\\"parent\\\":\\\"03dfa1cd1abe452bc2b69b8eb2362fa6beebc20893e65437906318954f6276d4\\\",\\\"created\\\":\\\"2016-03-03T11:29:38.563048924Z\\\",\\\"container\\\":\\\"fd4cf54dcd239fbae9bdade9db48e41880b436d27cb5313f60952a46ab04deff\\\",\\\"container_config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":[\\\"/bin/sh\\\",\\\"-c\\\",\\\"#(nop) LABEL Name=atomic-test-2\\\"],\\\"Image\\\":\\\"03dfa1cd1abe452bc2b69b8eb2362fa6beebc20893e65437906318954f6276d4\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":{\\\"Name\\\":\\\"atomic-test-2\\\"}},\\\"docker_version\\\":\\\"1.8.2-fc22\\\",\\\"author\\\":\\\"\\\\\\\"William Temple \\\\u003cwtemple at redhat dot com\\\\u003e\\\\\\\"\\\",\\\"config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":null,\\\"Image\\\":\\\"03dfa1cd1abe452bc2b69b8eb2362fa6beebc20893e65437906318954f6276d4\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":{\\\"Name\\\":\\\"atomic-test-2\\\"}},\\\"architecture\\\":\\\"amd64\\\",\\\"os\\\":\\\"linux\\\",\\\"Size\\\":0}\\n\"",
  "      },",
  "      {",
  "         \"v1Compatibility\": \"{\\\"id\\\":\\\"03dfa1cd1abe452bc2b69b8eb2362fa6beebc20893e65437906318954f6276d4\\\",\\\"created\\\":\\\"2016-03-03T11:29:32.948089874Z\\\",\\\"container\\\":\\\"56f0fe1dfc95755dd6cda10f7215c9937a8d9c6348d079c581a261fd4c2f3a5f\\\",\\\"container_config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":[\\\"/bin/sh\\\",\\\"-c\\\",\\\"#(nop) MAINTAINER \\\\\\\"William Temple \\\\u003cwtemple at redhat dot com\\\\u003e\\\\\\\"\\\"],\\\"Image\\\":\\\"\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":null},\\\"docker_version\\\":\\\"1.8.2-fc22\\\",\\\"author\\\":\\\"\\\\\\\"William Temple \\\\u003cwtemple at redhat dot com\\\\u003e\\\\\\\"\\\",\\\"config\\\":{\\\"Hostname\\\":\\\"56f0fe1dfc95\\\",\\\"Domainname\\\":\\\"\\\",\\\"User\\\":\\\"\\\",\\\"AttachStdin\\\":false,\\\"AttachStdout\\\":false,\\\"AttachStderr\\\":false,\\\"ExposedPorts\\\":null,\\\"PublishService\\\":\\\"\\\",\\\"Tty\\\":false,\\\"OpenStdin\\\":false,\\\"StdinOnce\\\":false,\\\"Env\\\":null,\\\"Cmd\\\":null,\\\"Image\\\":\\\"\\\",\\\"Volumes\\\":null,\\\"VolumeDriver\\\":\\\"\\\",\\\"WorkingDir\\\":\\\"\\\",\\\"Entrypoint\\\":null,\\\"NetworkDisabled\\\":false,\\\"MacAddress\\\":\\\"\\\",\\\"OnBuild\\\":null,\\\"Labels\\\":null},\\\"architecture\\\":\\\"amd64\\\",\\\"os\\\":\\\"linux\\\",\\\"Size\\\":0}\\n\"",
  "      }",
  "   ],",
  "   \"signatures\": [",
  "      {",
  "         \"header\": {",
  "            \"jwk\": {",
  "               \"crv\": \"P-256\",",
  "               \"kid\": \"OZ45:U3IG:TDOI:PMBD:NGP2:LDIW:II2U:PSBI:MMCZ:YZUP:TUUO:XPZT\",",
  "               \"kty\": \"EC\",",
  "               \"x\": \"ReC5c0J9tgXSdUL4_xzEt5RsD8kFt2wWSgJcpAcOQx8\",",
  "               \"y\": \"3sBGEqQ3ZMeqPKwQBAadN2toOUEASha18xa0WwsDF-M\"",
  "            },",
  "            \"alg\": \"ES256\"",
  "         },",
  "         \"signature\": \"dV1paJ3Ck1Ph4FcEhg_frjqxdlGdI6-ywRamk6CvMOcaOEUdCWCpCPQeBQpD2N6tGjkoG1BbstkFNflllfenCw\",",
  "         \"protected\": \"eyJmb3JtYXRMZW5ndGgiOjU0NzgsImZvcm1hdFRhaWwiOiJDbjAiLCJ0aW1lIjoiMjAxNi0wNC0xOFQyMDo1NDo0MloifQ\"",
  "      }",
  "   ]",
  "}",
].join("\n");
const SIGNED_V1_RAW_SHA256 = "sha256:e028c450623065a8813712d8018f9a3d49e8adaad885f6e01371a1e26bd2224d";
const SIGNED_V1_DIGEST = "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000";

const CONFIG = { mediaType: MediaType.OciConfig, digest: d(1), size: 7023 };
const LAYERS = [
  { mediaType: MediaType.OciLayerGzip, digest: d(2), size: 32654 },
  { mediaType: MediaType.OciLayerGzip, digest: d(3), size: 16724 },
  { mediaType: MediaType.OciLayerZstd, digest: d(4), size: 73109, urls: ["https://example.com/l"], annotations: { a: "b" } },
];

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: "application/vnd.example.sbom.v1",
  config: CONFIG,
  layers: LAYERS,
  subject: { mediaType: MediaType.OciManifest, digest: d(9), size: 1234 },
  annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" },
};

const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    { mediaType: MediaType.OciManifest, digest: d(5), size: 424, platform: { architecture: "amd64", os: "linux" } },
    {
      mediaType: MediaType.OciManifest,
      digest: d(6),
      size: 425,
      platform: { architecture: "arm", os: "linux", variant: "v7", "os.features": ["x"], features: ["y"] },
    },
    { mediaType: MediaType.OciManifest, digest: d(7), size: 566, platform: { architecture: "unknown", os: "unknown" } },
  ],
  artifactType: "application/vnd.example.bundle",
  subject: { mediaType: MediaType.OciIndex, digest: d(8), size: 99 },
  annotations: { k: "v" },
};

const dockerV2 = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestV2,
  config: { mediaType: MediaType.DockerConfig, digest: d(1), size: 1469 },
  layers: [{ mediaType: MediaType.DockerLayer, digest: d(2), size: 2811478 }],
};

const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    {
      mediaType: MediaType.DockerManifestV2,
      digest: d(5),
      size: 528,
      platform: { architecture: "amd64", os: "windows", "os.version": "10.0.17763.1" },
    },
  ],
};

/** An unsigned schema 1 manifest, pretty-printed the way Docker did (3 spaces). */
const v1Payload = JSON.stringify(
  {
    schemaVersion: 1,
    name: "ns/repo",
    tag: "1.0",
    architecture: "amd64",
    fsLayers: [{ blobSum: d(2) }, { blobSum: d(3) }],
    history: [{ v1Compatibility: '{"id":"b"}' }, { v1Compatibility: '{"id":"a"}' }],
  },
  null,
  3,
);

const b64url = (s: string): string => Buffer.from(s).toString("base64url");

/**
 * Signs the way libtrust lays out a pretty JWS: the payload is cut before its closing "\n}",
 * the signatures are spliced in, and the cut-off tail is put back. `formats` overrides the
 * protected header of each signature (one signature per entry).
 */
function signLikeLibtrust(payload: string, formats?: { formatLength: number; formatTail: string }[]): string {
  const cut = payload.lastIndexOf("\n}");
  const tail = payload.slice(cut);
  const headers = formats ?? [{ formatLength: cut, formatTail: tail }];
  const signatures = headers.map((h, i) => ({
    header: { alg: "ES256" },
    signature: b64url(`not-a-real-signature-${i}`),
    protected: b64url(JSON.stringify({ formatLength: h.formatLength, formatTail: b64url(h.formatTail), time: "2016-04-18T20:54:42Z" })),
  }));
  return `${payload.slice(0, cut)},\n   "signatures": ${JSON.stringify(signatures, null, 3)}${tail}`;
}

function expectManifestError(run: () => unknown, message: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ManifestError, `expected ManifestError, got ${String(err)}`);
    assert.equal(err.code, "INVALID_MANIFEST");
    assert.match(err.message, message);
    return true;
  });
}

function withChange(base: object, change: (m: Record<string, unknown>) => void): Uint8Array {
  const copy = structuredClone(base) as Record<string, unknown>;
  change(copy);
  return bytesOf(copy);
}

function layerAt(m: Record<string, unknown>, i: number): Record<string, unknown> {
  const layers = m["layers"];
  assert.ok(Array.isArray(layers));
  return layers[i] as Record<string, unknown>;
}

function kindOf(m: Manifest): string {
  return m.kind;
}

describe("parseManifest: each kind", () => {
  it("parses an OCI image manifest, keeping artifactType, subject, annotations and exact bytes", () => {
    const bytes = bytesOf(ociManifest);
    const m = parseManifest(bytes);
    assert.equal(m.kind, "oci-manifest");
    if (m.kind !== "oci-manifest") return;
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, MediaType.OciManifest);
    assert.equal(m.bytes, bytes);
    assert.equal(m.digest, digestOf(bytes));
    assert.deepEqual(m.config, CONFIG);
    assert.deepEqual(m.layers, LAYERS);
    assert.equal(m.artifactType, "application/vnd.example.sbom.v1");
    assert.deepEqual(m.subject, ociManifest.subject);
    assert.deepEqual(m.annotations, ociManifest.annotations);
    assert.equal(isImage(m), true);
    assert.equal(isIndex(m), false);
    assert.deepEqual(referencedDescriptors(m), [CONFIG, ...LAYERS]);
  });

  it("parses an OCI index with platforms; subject is not a referenced descriptor", () => {
    const m = parseManifest(bytesOf(ociIndex), `${MediaType.OciIndex}; charset=utf-8`);
    assert.equal(m.kind, "oci-index");
    if (m.kind !== "oci-index") return;
    assert.deepEqual(m.manifests, ociIndex.manifests);
    assert.equal(m.artifactType, "application/vnd.example.bundle");
    assert.deepEqual(m.subject, ociIndex.subject);
    assert.deepEqual(m.annotations, { k: "v" });
    assert.equal(isIndex(m), true);
    assert.equal(isImage(m), false);
    assert.deepEqual(
      referencedDescriptors(m).map((x) => x.digest),
      [d(5), d(6), d(7)],
    );
  });

  it("parses Docker v2 manifests and manifest lists", () => {
    const v2 = parseManifest(bytesOf(dockerV2), MediaType.DockerManifestV2);
    assert.equal(v2.kind, "docker-v2");
    assert.equal(isImage(v2), true);
    assert.deepEqual(referencedDescriptors(v2), [dockerV2.config, ...dockerV2.layers]);

    const list = parseManifest(bytesOf(dockerList));
    assert.equal(list.kind, "docker-list");
    assert.equal(isIndex(list), true);
    if (list.kind !== "docker-list") return;
    assert.equal(list.manifests[0]?.platform?.["os.version"], "10.0.17763.1");
  });

  it("omits absent optional fields instead of setting them to undefined", () => {
    const m = parseManifest(bytesOf({ ...ociManifest, artifactType: undefined, subject: undefined, annotations: undefined }));
    assert.equal("artifactType" in m, false);
    assert.equal("subject" in m, false);
    assert.equal("annotations" in m, false);
    assert.equal("urls" in (referencedDescriptors(m)[1] ?? {}), false);
  });

  it("parses an unsigned schema 1 manifest; its digest is plain sha256", () => {
    const bytes = enc.encode(v1Payload);
    const m = parseManifest(bytes, MediaType.DockerManifestV1);
    assert.equal(m.kind, "docker-v1");
    if (m.kind !== "docker-v1") return;
    assert.equal(m.signed, false);
    assert.equal(m.name, "ns/repo");
    assert.equal(m.tag, "1.0");
    assert.deepEqual(m.fsLayers, [{ blobSum: d(2) }, { blobSum: d(3) }]);
    assert.equal(m.history.length, 2);
    assert.equal(m.digest, digestOf(bytes));
    assert.deepEqual(referencedDescriptors(m), []);
    assert.equal(isImage(m) || isIndex(m), false);
  });
});

describe("schema 1 signed manifests (libtrust pretty JWS)", () => {
  const real = enc.encode(SIGNED_V1_MANIFEST);

  it("the embedded fixture is byte-exact", () => {
    assert.equal(real.byteLength, 6125);
    assert.equal(digestOf(real), SIGNED_V1_RAW_SHA256);
  });

  it("digests the payload without signatures, as a registry does", () => {
    assert.equal(manifestDigest(real, MediaType.DockerManifestV1Signed), SIGNED_V1_DIGEST);
    const m = parseManifest(real, MediaType.DockerManifestV1Signed);
    assert.equal(m.kind, "docker-v1");
    assert.equal(m.digest, SIGNED_V1_DIGEST);
    assert.notEqual(m.digest, digestOf(real));
    if (m.kind !== "docker-v1") return;
    assert.equal(m.signed, true);
    assert.equal(m.name, "mitr/busybox");
    assert.equal(m.fsLayers.length, 3);
  });

  it("detects a signed schema 1 manifest without any Content-Type", () => {
    const m = parseManifest(real);
    assert.equal(m.mediaType, MediaType.DockerManifestV1Signed);
    assert.equal(m.digest, SIGNED_V1_DIGEST);
  });

  it("gives the signed and unsigned forms the same digest", () => {
    const signed = enc.encode(signLikeLibtrust(v1Payload, undefined));
    const twoSigs = (() => {
      const cut = v1Payload.lastIndexOf("\n}");
      const format = { formatLength: cut, formatTail: v1Payload.slice(cut) };
      return enc.encode(signLikeLibtrust(v1Payload, [format, format]));
    })();
    const expected = digestOf(v1Payload);
    assert.equal(manifestDigest(signed, MediaType.DockerManifestV1Signed), expected);
    assert.equal(manifestDigest(twoSigs, MediaType.DockerManifestV1Signed), expected);
    assert.equal(parseManifest(signed).digest, expected);
  });

  it("only strips signatures for schema 1 media types", () => {
    assert.equal(manifestDigest(real, MediaType.OciManifest), SIGNED_V1_RAW_SHA256);
  });

  it("rejects protected headers that disagree or do not rebuild a JSON payload", () => {
    const cut = v1Payload.lastIndexOf("\n}");
    const good = { formatLength: cut, formatTail: v1Payload.slice(cut) };
    const disagree = enc.encode(signLikeLibtrust(v1Payload, [good, { ...good, formatLength: cut - 1 }]));
    expectManifestError(() => manifestDigest(disagree, MediaType.DockerManifestV1Signed), /disagree/);
    const broken = enc.encode(signLikeLibtrust(v1Payload, [{ ...good, formatLength: cut - 5 }]));
    expectManifestError(() => manifestDigest(broken, MediaType.DockerManifestV1Signed), /rebuilt payload: not valid JSON/);
    const tooLong = enc.encode(signLikeLibtrust(v1Payload, [{ ...good, formatLength: 10_000_000 }]));
    expectManifestError(() => manifestDigest(tooLong, MediaType.DockerManifestV1Signed), /formatLength/);
  });
});

describe("parseManifest: media type resolution", () => {
  it("uses Content-Type when the body has no mediaType", () => {
    const { mediaType: _omit, ...body } = dockerList;
    const m = parseManifest(bytesOf(body), MediaType.DockerManifestList);
    assert.equal(m.kind, "docker-list");
    assert.equal(m.mediaType, MediaType.DockerManifestList);
  });

  it("detects by shape when neither is given", () => {
    const { mediaType: _a, ...index } = ociIndex;
    const { mediaType: _b, ...image } = ociManifest;
    assert.equal(kindOf(parseManifest(bytesOf(index))), "oci-index");
    assert.equal(kindOf(parseManifest(bytesOf(image))), "oci-manifest");
    assert.equal(kindOf(parseManifest(enc.encode(v1Payload))), "docker-v1");
  });

  it("ignores generic Content-Types such as application/json", () => {
    assert.equal(kindOf(parseManifest(bytesOf(dockerV2), "application/json; charset=utf-8")), "docker-v2");
  });

  it("throws naming both when Content-Type and body mediaType disagree", () => {
    expectManifestError(
      () => parseManifest(bytesOf(ociManifest), MediaType.DockerManifestV2),
      /application\/vnd\.oci\.image\.manifest\.v1\+json.*application\/vnd\.docker\.distribution\.manifest\.v2\+json/,
    );
  });

  it("rejects non-manifest media types and unrecognizable shapes", () => {
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, mediaType: MediaType.OciConfig })), /not a manifest media type/);
    expectManifestError(() => parseManifest(bytesOf({ schemaVersion: 2, foo: 1 })), /not recognizable/);
  });
});

describe("parseManifest: malformed input", () => {
  it("rejects bad JSON, non-objects and invalid UTF-8", () => {
    expectManifestError(() => parseManifest(enc.encode("{not json")), /not valid JSON/);
    expectManifestError(() => parseManifest(enc.encode("[]")), /must be a JSON object, got an array/);
    expectManifestError(() => parseManifest(enc.encode("null")), /got null/);
    expectManifestError(() => parseManifest(enc.encode('"x"')), /got string/);
    expectManifestError(() => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d])), /UTF-8/);
  });

  it("names the missing required field", () => {
    expectManifestError(() => parseManifest(withChange(ociManifest, (m) => delete m["layers"])), /layers: required field is missing/);
    expectManifestError(() => parseManifest(withChange(dockerV2, (m) => delete m["config"])), /config: required field is missing/);
    expectManifestError(() => parseManifest(withChange(ociIndex, (m) => delete m["manifests"]), MediaType.OciIndex), /manifests: required/);
    expectManifestError(() => parseManifest(withChange(ociManifest, (m) => delete layerAt(m, 0)["mediaType"])), /layers\[0\]\.mediaType: required/);
  });

  it("points at a bad digest inside layers[1]", () => {
    const bytes = withChange(ociManifest, (m) => {
      layerAt(m, 1)["digest"] = "sha256:1234";
    });
    expectManifestError(() => parseManifest(bytes), /layers\[1\]\.digest: invalid digest "sha256:1234": .*expected 64 chars, got 4/);
  });

  it("rejects negative, fractional and non-numeric sizes", () => {
    for (const size of [-1, 1.5, "12", null, Number.MAX_SAFE_INTEGER + 2]) {
      const bytes = withChange(ociManifest, (m) => {
        layerAt(m, 2)["size"] = size;
      });
      expectManifestError(() => parseManifest(bytes), /layers\[2\]\.size: must be a non-negative integer/);
    }
  });

  it("checks schemaVersion", () => {
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, schemaVersion: 1 })), /schemaVersion: expected 2, got number 1/);
    expectManifestError(() => parseManifest(bytesOf({ ...dockerV2, schemaVersion: "2" })), /schemaVersion: expected 2/);
  });

  it("validates nested platform, annotations, urls and subject", () => {
    const noOs = withChange(ociIndex, (m) => {
      const manifests = m["manifests"] as Record<string, unknown>[];
      manifests[1] = { ...manifests[1], platform: { architecture: "arm" } };
    });
    expectManifestError(() => parseManifest(noOs), /manifests\[1\]\.platform\.os: required/);
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, annotations: { a: 1 } })), /annotations\.a: must be a string/);
    const badUrls = withChange(ociManifest, (m) => {
      layerAt(m, 2)["urls"] = "https://x";
    });
    expectManifestError(() => parseManifest(badUrls), /layers\[2\]\.urls: must be an array/);
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, subject: { mediaType: "x", size: 1 } })), /subject\.digest: required/);
  });

  it("checks schema 1 field consistency", () => {
    const v1 = JSON.parse(v1Payload) as Record<string, unknown>;
    expectManifestError(() => parseManifest(bytesOf({ ...v1, history: [] })), /history: has 0 entries but fsLayers has 2/);
    expectManifestError(() => parseManifest(bytesOf({ ...v1, fsLayers: [{ blobSum: "sha256:x" }, { blobSum: d(1) }] })), /fsLayers\[0\]\.blobSum: invalid digest/);
    const { name: _name, ...noName } = v1;
    expectManifestError(() => parseManifest(bytesOf(noName)), /name: required/);
  });

  it("checks embedded descriptor data against size and digest", () => {
    const data = Buffer.from("{}").toString("base64");
    const empty = { mediaType: MediaType.OciEmpty, digest: digestOf("{}"), size: 2, data };
    const ok = parseManifest(bytesOf({ ...ociManifest, config: empty }));
    assert.equal(ok.kind === "oci-manifest" ? ok.config.data : undefined, data);
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, config: { ...empty, size: 3 } })), /config\.data: decodes to 2 bytes, size says 3/);
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, config: { ...empty, digest: d(1) } })), /config\.data: content has digest/);
    expectManifestError(() => parseManifest(bytesOf({ ...ociManifest, config: { ...empty, data: "e30" } })), /config\.data: must be standard base64/);
  });
});

describe("parseImageConfig", () => {
  it("reads the typed fields of a config", () => {
    const config = parseImageConfig(
      bytesOf({
        architecture: "arm64",
        os: "linux",
        variant: "v8",
        created: "2024-01-01T00:00:00Z",
        author: "me",
        config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
        rootfs: { type: "layers", diff_ids: [d(1), d(2)] },
        history: [{ created_by: "x" }],
        extra: true,
      }),
    );
    assert.deepEqual(config, {
      architecture: "arm64",
      os: "linux",
      variant: "v8",
      created: "2024-01-01T00:00:00Z",
      author: "me",
      config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: [d(1), d(2)] },
      history: [{ created_by: "x" }],
    });
  });

  it("drops fields of an unexpected type instead of failing", () => {
    assert.deepEqual(parseImageConfig(bytesOf({ architecture: 5, os: "linux", rootfs: { type: "layers", diff_ids: [1] }, config: [] })), {
      os: "linux",
    });
  });

  it("rejects non-objects with a config: prefix", () => {
    expectManifestError(() => parseImageConfig(enc.encode("[1]")), /invalid manifest: config: must be a JSON object/);
    expectManifestError(() => parseImageConfig(enc.encode("nope")), /config: not valid JSON/);
  });
});
