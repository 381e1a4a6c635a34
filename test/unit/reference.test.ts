import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { InvalidReferenceError } from "../../src/errors.js";
import {
  DOCKER_HUB,
  Reference,
  isValidTag,
  parseReference,
  parseRepository,
  registryApiHost,
  validateRegistryHost,
} from "../../src/ref/reference.js";

const HEX = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const DIGEST = `sha256:${HEX}`;

interface Expected {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  string: string;
}

function expectParts(input: string, expected: Expected): void {
  const ref = parseReference(input);
  assert.deepEqual(
    { registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest, string: ref.toString() },
    expected,
    input,
  );
}

function expectInvalid(input: string, part: InvalidReferenceError["part"], message: RegExp): void {
  assert.throws(
    () => parseReference(input),
    (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError, `${input}: expected InvalidReferenceError, got ${String(err)}`);
      assert.equal(err.part, part, `${input}: ${err.message}`);
      assert.equal(err.code, "INVALID_REFERENCE");
      assert.match(err.message, message, input);
      return true;
    },
  );
}

describe("parseReference: Docker normalization", () => {
  it("adds docker.io, library/ and latest to a bare name", () => {
    expectParts("ubuntu", {
      registry: "docker.io",
      repository: "library/ubuntu",
      tag: "latest",
      digest: undefined,
      string: "docker.io/library/ubuntu:latest",
    });
  });

  it("adds docker.io but not library/ to user/repo", () => {
    expectParts("user/repo", {
      registry: "docker.io",
      repository: "user/repo",
      tag: "latest",
      digest: undefined,
      string: "docker.io/user/repo:latest",
    });
  });

  it("normalizes Docker Hub aliases to docker.io", () => {
    for (const host of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
      const ref = parseReference(`${host}/ubuntu:22.04`);
      assert.equal(ref.registry, DOCKER_HUB, host);
      assert.equal(ref.repository, "library/ubuntu", host);
      assert.equal(ref.toString(), "docker.io/library/ubuntu:22.04", host);
    }
    assert.equal(parseReference("docker.io/library/ubuntu").toString(), "docker.io/library/ubuntu:latest");
  });

  it("treats a first component with '.', ':' or 'localhost' as a registry", () => {
    expectParts("localhost/repo", { registry: "localhost", repository: "repo", tag: "latest", digest: undefined, string: "localhost/repo:latest" });
    expectParts("localhost:5000/repo", {
      registry: "localhost:5000",
      repository: "repo",
      tag: "latest",
      digest: undefined,
      string: "localhost:5000/repo:latest",
    });
    expectParts("host:5000/ns/repo:tag", {
      registry: "host:5000",
      repository: "ns/repo",
      tag: "tag",
      digest: undefined,
      string: "host:5000/ns/repo:tag",
    });
    expectParts("quay.io/ns/repo", { registry: "quay.io", repository: "ns/repo", tag: "latest", digest: undefined, string: "quay.io/ns/repo:latest" });
    // Without '.', ':' or "localhost" the first component is a Docker Hub namespace.
    expectParts("myhost/repo", { registry: "docker.io", repository: "myhost/repo", tag: "latest", digest: undefined, string: "docker.io/myhost/repo:latest" });
  });

  it("accepts bracketed IPv6 registries with and without port", () => {
    expectParts("[::1]:5000/repo:tag", { registry: "[::1]:5000", repository: "repo", tag: "tag", digest: undefined, string: "[::1]:5000/repo:tag" });
    expectParts("[2001:db8::1]/ns/repo", {
      registry: "[2001:db8::1]",
      repository: "ns/repo",
      tag: "latest",
      digest: undefined,
      string: "[2001:db8::1]/ns/repo:latest",
    });
  });

  it("keeps a digest without inventing a tag, and keeps tag plus digest", () => {
    expectParts(`repo@${DIGEST}`, {
      registry: "docker.io",
      repository: "library/repo",
      tag: undefined,
      digest: DIGEST,
      string: `docker.io/library/repo@${DIGEST}`,
    });
    expectParts(`localhost:5000/a/b:t@${DIGEST}`, {
      registry: "localhost:5000",
      repository: "a/b",
      tag: "t",
      digest: DIGEST,
      string: `localhost:5000/a/b:t@${DIGEST}`,
    });
  });

  it("honours defaultTag only when neither tag nor digest is given", () => {
    assert.equal(parseReference("ubuntu", { defaultTag: "stable" }).tag, "stable");
    assert.equal(Reference.parse("ubuntu:20.04", { defaultTag: "stable" }).tag, "20.04");
    assert.equal(parseReference(`ubuntu@${DIGEST}`, { defaultTag: "stable" }).tag, undefined);
  });

  it("accepts the separators the grammar allows", () => {
    for (const repo of ["a.b", "a_b", "a__b", "a-b", "a---b", "a.b-c_d__e/f0", "0/1"]) {
      assert.equal(parseReference(`quay.io/${repo}`).repository, repo);
    }
    assert.equal(parseReference("a:_t.a-G").tag, "_t.a-G");
    assert.equal(parseReference(`a:${"x".repeat(128)}`).tag?.length, 128);
  });

  it("round-trips toString through parse", () => {
    for (const input of [
      "ubuntu",
      "user/repo:1.0",
      "localhost:5000/a/b:t",
      "[::1]:5000/repo:tag",
      `quay.io/ns/repo@${DIGEST}`,
      `ghcr.io/o/r:t@${DIGEST}`,
    ]) {
      const once = parseReference(input);
      const twice = parseReference(once.toString());
      assert.deepEqual(twice, once, input);
      assert.equal(twice.toString(), once.toString());
    }
  });
});

describe("parseReference: errors", () => {
  it("rejects upper-case repositories as the repository part, saying lowercase", () => {
    expectInvalid("Ubuntu", "repository", /lowercase/);
    expectInvalid("quay.io/NS/repo", "repository", /lowercase/);
  });

  it("rejects empty input and whitespace", () => {
    expectInvalid("", "reference", /empty/);
    expectInvalid("ubuntu latest", "reference", /whitespace/);
    expectInvalid(" ubuntu", "reference", /whitespace/);
  });

  it("rejects empty path components and bad separators", () => {
    expectInvalid("a//b", "repository", /empty path component/);
    expectInvalid("a/", "repository", /empty path component/);
    expectInvalid("quay.io/", "repository", /empty/);
    expectInvalid("-a", "repository", /"-a" must start/);
    expectInvalid("a-", "repository", /"a-" must end/);
    expectInvalid("a___b", "repository", /separator/);
    expectInvalid("a.-b", "repository", /separator/);
    expectInvalid("a..b/c", "registry", /not a valid host/);
  });

  it("rejects tags that do not match the grammar, saying too long past 128", () => {
    expectInvalid("ubuntu:", "tag", /empty/);
    expectInvalid(`ubuntu:${"x".repeat(129)}`, "tag", /too long: 129/);
    expectInvalid("ubuntu:.hidden", "tag", /must match/);
    expectInvalid("ubuntu:-x", "tag", /must match/);
  });

  it("rejects bad digests with parseDigest's reason", () => {
    expectInvalid(`ubuntu@${DIGEST.slice(0, -1)}`, "digest", /expected 64 chars, got 63/);
    expectInvalid(`ubuntu@md5:${HEX.slice(0, 32)}`, "digest", /unsupported algorithm/);
    expectInvalid("ubuntu@", "digest", /empty/);
  });

  it("rejects repository names longer than 255 characters", () => {
    const long = `quay.io/${"a".repeat(200)}/${"b".repeat(55)}`; // path is 256 chars
    expectInvalid(long, "repository", /too long/);
    assert.equal(parseReference(`quay.io/${"a".repeat(200)}/${"b".repeat(54)}`).repository.length, 255);
  });

  it("rejects a 64-hex name, which Docker reserves for image IDs", () => {
    expectInvalid(HEX, "repository", /image ID/);
  });

  it("rejects bad registry ports", () => {
    expectInvalid("localhost:99999/repo", "registry", /out of range/);
    expectInvalid("localhost:abc/repo", "registry", /must be a number/);
  });
});

describe("Reference", () => {
  const ref = parseReference(`quay.io/ns/repo:v1@${DIGEST}`);

  it("exposes name and the manifest reference (digest first)", () => {
    assert.equal(ref.name, "quay.io/ns/repo");
    assert.equal(ref.reference, DIGEST);
    assert.equal(parseReference("quay.io/ns/repo:v1").reference, "v1");
  });

  it("withTag replaces the tag and drops the digest", () => {
    const tagged = ref.withTag("v2");
    assert.equal(tagged.toString(), "quay.io/ns/repo:v2");
    assert.equal(tagged.digest, undefined);
    assert.equal(ref.tag, "v1", "original unchanged");
    assert.throws(() => ref.withTag("bad tag"), (err: unknown) => err instanceof InvalidReferenceError && err.part === "tag");
  });

  it("withDigest pins a digest and keeps the tag", () => {
    const pinned = parseReference("quay.io/ns/repo:v1").withDigest(DIGEST);
    assert.equal(pinned.toString(), `quay.io/ns/repo:v1@${DIGEST}`);
    assert.equal(pinned.reference, DIGEST);
    assert.throws(() => ref.withDigest("sha256:abc"), (err: unknown) => err instanceof InvalidReferenceError && err.part === "digest");
  });

  it("fromParts validates and normalizes like parse", () => {
    const built = Reference.fromParts({ registry: "index.docker.io", repository: "ubuntu" });
    assert.equal(built.toString(), "docker.io/library/ubuntu:latest");
    assert.throws(() => Reference.fromParts({ registry: "quay.io", repository: "A" }), InvalidReferenceError);
  });

  it("toFamiliarString shortens Docker Hub names only", () => {
    assert.equal(parseReference("ubuntu").toFamiliarString(), "ubuntu:latest");
    assert.equal(parseReference("user/repo:1").toFamiliarString(), "user/repo:1");
    assert.equal(parseReference("quay.io/a/b:1").toFamiliarString(), "quay.io/a/b:1");
  });
});

describe("parseRepository", () => {
  it("returns registry and normalized repository", () => {
    assert.deepEqual(parseRepository("ubuntu"), { registry: "docker.io", repository: "library/ubuntu" });
    assert.deepEqual(parseRepository("localhost:5000/a/b"), { registry: "localhost:5000", repository: "a/b" });
  });

  it("throws when a tag or digest is present", () => {
    assert.throws(() => parseRepository("ubuntu:22.04"), (err: unknown) => err instanceof InvalidReferenceError && err.part === "tag");
    assert.throws(() => parseRepository(`ubuntu@${DIGEST}`), (err: unknown) => err instanceof InvalidReferenceError && err.part === "digest");
  });
});

describe("registry helpers", () => {
  it("registryApiHost maps docker.io to registry-1.docker.io only", () => {
    assert.equal(registryApiHost("docker.io"), "registry-1.docker.io");
    assert.equal(registryApiHost("quay.io"), "quay.io");
    assert.equal(registryApiHost("[::1]:5000"), "[::1]:5000");
  });

  it("validateRegistryHost accepts hosts, IPv4, bracketed IPv6, ports", () => {
    for (const host of ["quay.io", "localhost", "localhost:5000", "10.0.0.1:443", "[::1]", "[fe80::1]:5000", "[::ffff:127.0.0.1]:5000", "[2001:db8::8:800:200c:417a]", "my-reg.example.com"]) {
      assert.doesNotThrow(() => validateRegistryHost(host), host);
    }
  });

  it("an invalid bracketed IPv6 registry in a reference is an InvalidReferenceError naming the registry", () => {
    for (const input of ["[:::::]/repo:tag", "[1:2:3:4:5:6:7:8:9]:5000/repo"]) {
      assert.throws(() => parseReference(input), (err: unknown) => err instanceof InvalidReferenceError && err.part === "registry" && /not a valid host name/.test(err.message), input);
    }
  });

  it("validateRegistryHost rejects malformed hosts as part registry", () => {
    // The bracketed ones are not IPv6 addresses a URL accepts (the last two used to end in "TypeError: Invalid URL").
    for (const host of ["", "-bad.io", "bad-.io", "a..b", "[::1", "::1", "host:", "host:0", "a_b.io", "[:::::]", "[1:2:3:4:5:6:7:8:9]", "[::g]", "[1.2.3.4]"]) {
      assert.throws(
        () => validateRegistryHost(host),
        (err: unknown) => err instanceof InvalidReferenceError && err.part === "registry",
        host,
      );
    }
  });

  it("isValidTag follows [\\w][\\w.-]{0,127}", () => {
    assert.equal(isValidTag("latest"), true);
    assert.equal(isValidTag("_x"), true);
    assert.equal(isValidTag("x".repeat(128)), true);
    assert.equal(isValidTag("x".repeat(129)), false);
    assert.equal(isValidTag(".x"), false);
    assert.equal(isValidTag(""), false);
    assert.equal(isValidTag("a/b"), false);
  });
});
