/**
 * The pure parts of the high-level objects (dreg-client's and dockerreg's meaning): history
 * commands cleaned, namespaces and catalog filters, and an ImageIndex over a MemoryStore whose
 * images are built in the test (a single image is an index of one; platform images carry what
 * their config says; a missing platform lists what exists).
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { Readable } from "node:stream";
import { cleanCreatedBy, imageHistory, newestCreated } from "../../src/image/details.js";
import { catalogNamespaces, filterCatalog, splitRepositoryName } from "../../src/image/catalog.js";
import { ImageIndex, Registry, Repository } from "../../src/image/image.js";
import { InvalidDigestError, ManifestError, PlatformNotFoundError, UnsupportedError, UsageError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import { AMD64, ARM64, content, imageManifest, layer, multiArch, OCI_CONFIG, seed, sha256, singleImage, type BuiltImage } from "../harness/memory-images.js";

describe("history: created_by cleaned as dreg-client cleans it", () => {
  const cases: [string, string][] = [
    ['/bin/sh -c #(nop)  CMD ["/bin/sh"]', 'CMD ["/bin/sh"]'],
    ["/bin/sh -c #(nop) ADD file:0123abc in / ", "ADD file:0123abc in /"],
    ["/bin/sh -c apt-get update && apt-get install -y curl", "RUN apt-get update && apt-get install -y curl"],
    ["RUN /bin/sh -c make install # buildkit", "RUN make install"],
    ['ENTRYPOINT ["/app"]', 'ENTRYPOINT ["/app"]'],
    ['CMD ["serve"] # buildkit', 'CMD ["serve"]'],
    ["COPY . /src # buildkit", "COPY . /src"],
    ["  WORKDIR /app  ", "WORKDIR /app"],
    ["", ""],
  ];
  for (const [raw, clean] of cases) {
    it(`${JSON.stringify(raw)} -> ${JSON.stringify(clean)}`, () => assert.equal(cleanCreatedBy(raw), clean));
  }

  it("history entries keep the raw command, the empty-layer flag and the comment; non-objects are skipped", () => {
    const history = imageHistory({
      history: [
        { created: "2024-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop)  ENV A=1", empty_layer: true },
        "junk",
        { created: "2024-01-02T00:00:00.5Z", created_by: "RUN /bin/sh -c true # buildkit", comment: "buildkit.dockerfile.v0" },
      ],
    });
    assert.deepEqual(history, [
      { created: "2024-01-01T00:00:00Z", createdBy: "ENV A=1", rawCreatedBy: "/bin/sh -c #(nop)  ENV A=1", emptyLayer: true },
      { created: "2024-01-02T00:00:00.5Z", createdBy: "RUN true", rawCreatedBy: "RUN /bin/sh -c true # buildkit", emptyLayer: false, comment: "buildkit.dockerfile.v0" },
    ]);
  });

  it("the newest history entry is the image's build time (as written), else the config's created", () => {
    const history = [
      { created: "2024-03-01T10:00:00.123456789Z", created_by: "b" },
      { created: "2025-01-01T00:00:00+02:00", created_by: "c" },
      { created: "2024-12-31T23:00:00Z", created_by: "a" },
    ];
    // 2025-01-01T00:00+02:00 is 2024-12-31T22:00Z: earlier than 23:00Z.
    assert.equal(newestCreated({ created: "2020-01-01T00:00:00Z", history }), "2024-12-31T23:00:00Z");
    assert.equal(newestCreated({ created: "2020-01-01T00:00:00Z", history: [{ created_by: "no time" }] }), "2020-01-01T00:00:00Z");
    assert.equal(newestCreated({}), undefined);
  });
});

describe("catalog: namespaces and filters", () => {
  const names = ["app", "team/web", "team/api", "org/group/svc", "other/web", "library/busybox"];

  it("splits at the first slash; a name without one is in library", () => {
    assert.deepEqual(splitRepositoryName("app"), { name: "app", namespace: "library", repository: "app" });
    assert.deepEqual(splitRepositoryName("org/group/svc"), { name: "org/group/svc", namespace: "org", repository: "group/svc" });
  });

  it("namespaces each once in catalog order, filtered by namespace or by repository name", () => {
    assert.deepEqual(catalogNamespaces(names), ["library", "team", "org", "other"]);
    assert.deepEqual(catalogNamespaces(names, { namespace: /^t/ }), ["team"]);
    assert.deepEqual(catalogNamespaces(names, { repository: "^web$" }), ["team", "other"]);
  });

  it("repositories filtered by both patterns; a bad pattern is a UsageError", () => {
    assert.deepEqual(
      filterCatalog(names, { namespace: "^(team|other)$", repository: /^w/g }).map((n) => n.name),
      ["team/web", "other/web"],
    );
    // A global RegExp is tested from the start for every name (no lastIndex carried over).
    assert.deepEqual(filterCatalog(["a/web", "b/web", "c/api"], { repository: /w/g }).map((n) => n.name), ["a/web", "b/web"]);
    assert.throws(() => filterCatalog(names, { namespace: "(" }), UsageError);
    // Text patterns match from the start, as Python's re.match in dreg-client; a RegExp as given.
    assert.deepEqual(filterCatalog(["k/nova-api", "k/openstack-nova"], { repository: "nova" }).map((n) => n.name), ["k/nova-api"]);
    assert.deepEqual(filterCatalog(["k/nova-api", "k/openstack-nova"], { repository: /nova/ }).map((n) => n.name), ["k/nova-api", "k/openstack-nova"]);
    assert.deepEqual(filterCatalog(["k/a", "k/b"], { repository: "a|b" }).map((n) => n.name), ["k/a", "k/b"]);
  });

  it("Registry.repository: ns/repo or (repo, ns); both at once is a UsageError", () => {
    const registry = new Registry("127.0.0.1:1", { plainHttp: true, dockerConfig: false });
    assert.equal(registry.repository("team/app").name, "team/app");
    assert.equal(registry.repository("app", "team").name, "team/app");
    assert.equal(registry.repository("app").name, "app");
    assert.throws(() => registry.repository("team/app", "team"), UsageError);
  });
});

async function repositoryWith(image: BuiltImage, tag: string): Promise<Repository> {
  const store = new MemoryStore({ location: "memory:test" });
  await seed(store, image, tag);
  return new Repository(store);
}

/** A single image whose config has history, labels, env, entrypoint and cmd. */
function describedImage(): { image: BuiltImage; layers: ReturnType<typeof layer>[]; config: ReturnType<typeof content> } {
  const layers = [layer("a", 1500), layer("b", 700)];
  const config = content(
    JSON.stringify({
      created: "2024-05-06T07:08:09Z",
      architecture: "arm64",
      variant: "v8",
      os: "linux",
      config: { Env: ["PATH=/bin", "A=1"], Entrypoint: ["/entry"], Cmd: ["serve", "--port=80"], Labels: { "org.example": "yes", bad: 3 } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l.bytes)) },
      history: [
        { created: "2024-05-06T07:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:abc in / " },
        { created: "2024-05-06T07:05:00Z", created_by: "RUN /bin/sh -c make # buildkit" },
        { created: "2024-05-06T07:08:09Z", created_by: '/bin/sh -c #(nop)  CMD ["serve"]', empty_layer: true },
      ],
    }),
    OCI_CONFIG,
  );
  const manifest = imageManifest({ config, layers });
  return { image: { root: manifest, manifests: [manifest], blobs: [config, ...layers] }, layers, config };
}

describe("ImageIndex and PlatformImage over a MemoryStore", () => {
  it("an index: its platforms, and each platform's image with config, layers and size as the sum of the layers", async () => {
    const multi = multiArch();
    const repository = await repositoryWith(multi, "v1");
    const image = await repository.getImage("v1");
    assert.equal(image.isIndex, true);
    assert.equal(image.digest, multi.root.descriptor.digest);
    assert.deepEqual(image.platformNames, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    const arm = await image.getPlatformImage("linux/arm64");
    assert.equal(arm.digest, multi.arm64.descriptor.digest);
    assert.equal(arm.platformName, "linux/arm64/v8");
    assert.deepEqual(
      arm.layers.map((l) => l.digest),
      [multi.shared.descriptor.digest, multi.arm64Only.descriptor.digest],
    );
    assert.equal(arm.size, multi.shared.bytes.length + multi.arm64Only.bytes.length);
    assert.equal(arm.configDescriptor.digest, multi.configs[1].descriptor.digest);
    assert.deepEqual(arm.env, ["PATH=/usr/bin"]);
    assert.deepEqual(arm.cmd, ["/bin/sh"]);
    assert.equal(arm.entrypoint, undefined);
    const all = await image.getPlatformImages();
    assert.deepEqual(
      all.map((p) => p.digest),
      [multi.amd64.descriptor.digest, multi.arm64.descriptor.digest, multi.armv7.descriptor.digest],
    );
  });

  it("a platform the index lacks is a PlatformNotFoundError listing those it has", async () => {
    const image = await (await repositoryWith(multiArch(), "v1")).getImage("v1");
    await assert.rejects(image.getPlatformImage("linux/s390x"), (err: unknown) => {
      assert.ok(err instanceof PlatformNotFoundError);
      assert.deepEqual(err.available, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
      return true;
    });
  });

  it("a single image is an index of one: its platform from its config, the image itself for it, an error for another", async () => {
    const { image: built, layers, config } = describedImage();
    const repository = await repositoryWith(built, "one");
    const image = await repository.getImage("one");
    assert.equal(image.isIndex, false);
    assert.equal(image.digest, built.root.descriptor.digest);
    assert.deepEqual(image.platforms, [{ os: "linux", architecture: "arm64", variant: "v8" }]);
    const platformImage = await image.getPlatformImage({ os: "linux", architecture: "arm64" });
    assert.equal(platformImage.digest, built.root.descriptor.digest);
    assert.equal(platformImage.size, layers[0]!.bytes.length + layers[1]!.bytes.length);
    assert.equal(platformImage.configDescriptor.digest, config.descriptor.digest);
    assert.equal(platformImage.created, "2024-05-06T07:08:09Z");
    assert.deepEqual(
      platformImage.history.map((h) => h.createdBy),
      ["ADD file:abc in /", "RUN make", 'CMD ["serve"]'],
    );
    assert.deepEqual(platformImage.labels, { "org.example": "yes" });
    assert.deepEqual(platformImage.env, ["PATH=/bin", "A=1"]);
    assert.deepEqual(platformImage.entrypoint, ["/entry"]);
    assert.deepEqual(platformImage.cmd, ["serve", "--port=80"]);
    await assert.rejects(image.getPlatformImage("linux/amd64"), (err: unknown) => err instanceof PlatformNotFoundError && err.available.join() === "linux/arm64/v8");
    // The Image object answers the same one field at a time.
    const one = await image.image("linux/arm64/v8");
    assert.equal(await one.lastCreated(), "2024-05-06T07:08:09Z");
    assert.deepEqual(await one.labels(), { "org.example": "yes" });
    assert.equal(one.layersSize, platformImage.size);
    assert.equal(one.size, built.root.bytes.length + config.bytes.length + platformImage.size);
  });

  it("checkManifest: the digest, or null when nothing has that name", async () => {
    const single = singleImage(AMD64, ["x"]);
    const repository = await repositoryWith(single, "v1");
    assert.equal(await repository.checkManifest("v1"), single.root.descriptor.digest);
    assert.equal(await repository.checkManifest("nope"), null);
    assert.equal(await repository.checkManifest(sha256(Buffer.from("absent"))), null);
  });

  it("getBlob: verified bytes from any store given the size; delete needs a registry; a tag is no digest", async () => {
    const single = singleImage(ARM64, ["y"]);
    const repository = await repositoryWith(single, "v1");
    const blob = single.blobs[1]!;
    const chunks: Buffer[] = [];
    for await (const chunk of await repository.getBlob(blob.descriptor.digest, { size: blob.descriptor.size })) chunks.push(chunk as Buffer);
    assert.equal(sha256(Buffer.concat(chunks)), blob.descriptor.digest);
    await assert.rejects(repository.getBlob(blob.descriptor.digest), UsageError);
    await assert.rejects(repository.deleteBlob(blob.descriptor.digest), UnsupportedError);
    await assert.rejects(repository.deleteManifest(single.root.descriptor.digest), UnsupportedError);
    await assert.rejects(repository.deleteManifest("v1"), InvalidDigestError);
    assert.ok(Readable);
  });

  it("a schema 1 manifest has no platforms: getImage says so", async () => {
    const store = new MemoryStore();
    const schema1 = content(
      JSON.stringify({ schemaVersion: 1, name: "x/y", tag: "old", architecture: "amd64", fsLayers: [{ blobSum: sha256(Buffer.from("l")) }], history: [{ v1Compatibility: "{}" }] }),
      "application/vnd.docker.distribution.manifest.v1+json",
    );
    await store.push(schema1.descriptor, schema1.bytes);
    await store.tag(schema1.descriptor, "old");
    await assert.rejects(new Repository(store).getImage("old"), ManifestError);
    assert.ok(ImageIndex);
  });
});
