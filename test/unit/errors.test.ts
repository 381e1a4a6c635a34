/** The error model callers branch on: codes from a closed set, categories, and the classes for them. */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DigestMismatchError,
  IntegrityError,
  isNotFound,
  NotFoundError,
  PlatformNotFoundError,
  QuaysideError,
  RegistryError,
  SizeMismatchError,
  UnsupportedError,
} from "../../src/index.js";

const request = { method: "GET", url: "http://127.0.0.1:5000/v2/team/app/manifests/nope" };

describe("errors", () => {
  it("a registry error keeps a code it knows, else says the status; the body's entries stay as sent", () => {
    const known = new RegistryError(404, request, [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }]);
    assert.equal(known.code, "MANIFEST_UNKNOWN");
    const odd = new RegistryError(404, request, [{ code: "SOMETHING_ELSE", message: "?" }]);
    assert.equal(odd.code, "NOT_FOUND");
    assert.equal(odd.errors[0]?.code, "SOMETHING_ELSE");
    assert.equal(new RegistryError(502, request, []).code, "HTTP_502");
    assert.equal(new RegistryError(500, request, [{ code: "x".repeat(10), message: "" }]).category, "protocol");
  });

  it("isNotFound answers for every layer's not-found, and nothing else", () => {
    for (const err of [new NotFoundError("tag x not in oci:dir"), new RegistryError(404, request, []), new PlatformNotFoundError("linux/s390x", ["linux/amd64"])]) {
      assert.equal(isNotFound(err), true, err.message);
    }
    for (const err of [new RegistryError(401, request, []), new UnsupportedError("no"), new Error("plain"), "text", undefined]) {
      assert.equal(isNotFound(err), false, String(err));
    }
  });

  it("integrity errors share a class; unsupported has its own category", () => {
    assert.ok(new DigestMismatchError("sha256:a", "sha256:b") instanceof IntegrityError);
    assert.ok(new SizeMismatchError(1, 2) instanceof IntegrityError);
    const unsupported = new UnsupportedError("docker-archive:x cannot hold referrers");
    assert.ok(unsupported instanceof QuaysideError);
    assert.equal(unsupported.code, "UNSUPPORTED");
    assert.equal(unsupported.category, "unsupported");
  });
});
