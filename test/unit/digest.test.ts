import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DigestHasher,
  createVerifyingStream,
  digestOf,
  isDigest,
  parseDigest,
  verifyDigest,
} from "../../src/digest/digest.js";
import { DigestMismatchError, InvalidDigestError, SizeMismatchError } from "../../src/errors.js";

// Known answers (FIPS 180-2 test vectors; cross-checked with `printf abc | sha256sum / sha512sum`).
const SHA256_ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const SHA512_ABC =
  "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const SHA256_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const enc = new TextEncoder();

function invalidDigestReason(input: string): string {
  try {
    parseDigest(input);
  } catch (err) {
    assert.ok(err instanceof InvalidDigestError, `expected InvalidDigestError, got ${String(err)}`);
    assert.equal(err.code, "INVALID_DIGEST");
    assert.equal(err.input, input);
    return err.message;
  }
  assert.fail(`parseDigest(${JSON.stringify(input)}) did not throw`);
}

/** Pipes chunks through a verifying stream and returns what came out (or rejects). */
async function runThrough(chunks: Uint8Array[], expected: string, options?: { expectedSize?: number; what?: string }): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(chunks), createVerifyingStream(expected, options), sink);
  return Buffer.concat(out);
}

describe("digestOf", () => {
  it("matches the sha256 and sha512 known answers for 'abc'", () => {
    assert.equal(digestOf("abc"), SHA256_ABC);
    assert.equal(digestOf(enc.encode("abc")), SHA256_ABC);
    assert.equal(digestOf("abc", "sha512"), SHA512_ABC);
  });

  it("hashes empty input", () => {
    assert.equal(digestOf(new Uint8Array()), SHA256_EMPTY);
  });
});

describe("parseDigest", () => {
  it("splits algorithm and hex", () => {
    assert.deepEqual(parseDigest(SHA256_ABC), { algorithm: "sha256", hex: SHA256_ABC.slice(7) });
    assert.deepEqual(parseDigest(SHA512_ABC), { algorithm: "sha512", hex: SHA512_ABC.slice(7) });
  });

  it("says what is wrong", () => {
    assert.match(invalidDigestReason("ba7816bf"), /missing ':'/);
    assert.match(invalidDigestReason(""), /empty/);
    assert.match(invalidDigestReason("md5:900150983cd24fb0d6963f7d28e17f72"), /unsupported algorithm "md5"/);
    assert.match(invalidDigestReason("SHA256:" + SHA256_ABC.slice(7)), /unsupported algorithm "SHA256"/);
    assert.match(invalidDigestReason(SHA256_ABC.slice(0, -1)), /expected 64 chars, got 63/);
    assert.match(invalidDigestReason(SHA256_ABC + "0"), /expected 64 chars, got 65/);
    assert.match(invalidDigestReason("sha512:" + SHA256_ABC.slice(7)), /expected 128 chars, got 64/);
    assert.match(invalidDigestReason(SHA256_ABC.toUpperCase().replace("SHA256", "sha256")), /lowercase/);
    assert.match(invalidDigestReason(SHA256_ABC.slice(0, -1) + "g"), /hexadecimal/);
    assert.match(invalidDigestReason("sha256:"), /expected 64 chars, got 0/);
  });

  it("isDigest agrees with parseDigest", () => {
    assert.equal(isDigest(SHA256_ABC), true);
    assert.equal(isDigest(SHA512_ABC), true);
    assert.equal(isDigest(SHA256_ABC.slice(0, -1)), false);
    assert.equal(isDigest("sha256"), false);
  });
});

describe("DigestHasher", () => {
  it("equals the one-shot digest however the input is chunked", () => {
    const data = enc.encode("The quick brown fox jumps over the lazy dog".repeat(1000));
    for (const size of [1, 7, 64, 1000, data.length]) {
      const hasher = new DigestHasher();
      for (let i = 0; i < data.length; i += size) hasher.update(data.subarray(i, i + size));
      assert.equal(hasher.bytes, data.length);
      assert.equal(hasher.digest(), digestOf(data), `chunk size ${size}`);
    }
  });

  it("supports sha512 and returns the same value on a second digest() call", () => {
    const hasher = new DigestHasher("sha512").update(enc.encode("a")).update(enc.encode("bc"));
    assert.equal(hasher.algorithm, "sha512");
    assert.equal(hasher.digest(), SHA512_ABC);
    assert.equal(hasher.digest(), SHA512_ABC);
    assert.throws(() => hasher.update(enc.encode("more")), /after digest/);
  });

  it("counts zero bytes before any update", () => {
    const hasher = new DigestHasher();
    assert.equal(hasher.bytes, 0);
    assert.equal(hasher.digest(), SHA256_EMPTY);
  });
});

describe("verifyDigest", () => {
  it("accepts matching content for either algorithm", () => {
    verifyDigest(SHA256_ABC, enc.encode("abc"));
    verifyDigest(SHA512_ABC, enc.encode("abc"));
  });

  it("throws DigestMismatchError with expected, actual and what", () => {
    assert.throws(
      () => verifyDigest(SHA256_ABC, enc.encode("abd"), "blob x"),
      (err: unknown) => {
        assert.ok(err instanceof DigestMismatchError);
        assert.equal(err.expected, SHA256_ABC);
        assert.equal(err.actual, digestOf("abd"));
        assert.match(err.message, /blob x/);
        return true;
      },
    );
  });

  it("rejects a malformed expected digest", () => {
    assert.throws(() => verifyDigest("sha256:abc", enc.encode("abc")), InvalidDigestError);
  });
});

describe("createVerifyingStream", () => {
  const chunks = [enc.encode("a"), enc.encode("b"), enc.encode("c")];

  it("passes good data through unchanged", async () => {
    assert.equal((await runThrough(chunks, SHA256_ABC, { expectedSize: 3 })).toString(), "abc");
    assert.equal((await runThrough(chunks, SHA512_ABC)).toString(), "abc");
  });

  it("errors with DigestMismatchError on different content", async () => {
    await assert.rejects(runThrough([enc.encode("abd")], SHA256_ABC, { what: "layer 1" }), (err: unknown) => {
      assert.ok(err instanceof DigestMismatchError);
      assert.equal(err.actual, digestOf("abd"));
      assert.match(err.message, /layer 1/);
      return true;
    });
  });

  it("errors with SizeMismatchError when shorter than expected", async () => {
    await assert.rejects(runThrough(chunks, SHA256_ABC, { expectedSize: 4 }), (err: unknown) => {
      assert.ok(err instanceof SizeMismatchError);
      assert.equal(err.expected, 4);
      assert.equal(err.actual, 3);
      return true;
    });
  });

  it("errors with SizeMismatchError as soon as the content is longer than expected", async () => {
    const passed: string[] = [];
    const stream = createVerifyingStream(SHA256_ABC, { expectedSize: 2 });
    stream.on("data", (chunk: Buffer) => passed.push(chunk.toString()));
    const failed = new Promise<unknown>((resolve) => stream.on("error", resolve));
    for (const chunk of chunks) stream.write(chunk);
    const err = await failed;
    assert.ok(err instanceof SizeMismatchError);
    assert.equal(err.expected, 2);
    assert.equal(err.actual, 3);
    assert.deepEqual(passed, ["a", "b"]);
  });

  it("throws synchronously on a malformed expected digest", () => {
    assert.throws(() => createVerifyingStream("sha256:nope"), InvalidDigestError);
  });
});
