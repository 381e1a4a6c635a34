import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { InvalidPlatformError, PlatformNotFoundError } from "../../src/errors.js";
import type { Descriptor, Platform } from "../../src/media/types.js";
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  selectPlatform,
} from "../../src/ref/platform.js";

const p = parsePlatform;

/** A descriptor whose digest encodes its position, so tests can tell which one was picked. */
function entry(index: number, platform: Platform | undefined, annotations?: Record<string, string>): Descriptor {
  const d: Descriptor = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: `sha256:${index.toString(16).padStart(64, "0")}`,
    size: 100 + index,
  };
  if (platform !== undefined) d.platform = platform;
  if (annotations !== undefined) d.annotations = annotations;
  return d;
}

function index(...platforms: (string | Platform | undefined)[]): Descriptor[] {
  return platforms.map((pl, i) => entry(i, typeof pl === "string" ? p(pl) : pl));
}

function picked(manifests: Descriptor[], want: string): string {
  const chosen = selectPlatform(manifests, p(want));
  assert.ok(chosen.platform);
  return formatPlatform(chosen.platform);
}

describe("parsePlatform / formatPlatform", () => {
  it("parses os/arch and os/arch/variant, lower-cased", () => {
    assert.deepEqual(p("linux/amd64"), { os: "linux", architecture: "amd64" });
    assert.deepEqual(p("linux/arm/v7"), { os: "linux", architecture: "arm", variant: "v7" });
    assert.deepEqual(p("Windows/AMD64"), { os: "windows", architecture: "amd64" });
    assert.deepEqual(p("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
  });

  it("formats with the variant only when present", () => {
    assert.equal(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
    assert.equal(formatPlatform({ os: "linux", architecture: "amd64" }), "linux/amd64");
    for (const spec of ["linux/amd64", "linux/arm/v6", "windows/amd64", "linux/s390x"]) assert.equal(formatPlatform(p(spec)), spec);
  });

  it("rejects malformed specs with InvalidPlatformError", () => {
    for (const spec of ["", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux//v7", "linux/am d64", "linux/arm64/"]) {
      assert.throws(() => p(spec), InvalidPlatformError, JSON.stringify(spec));
    }
  });
});

describe("normalizePlatform", () => {
  const norm = (spec: string): string => formatPlatform(normalizePlatform(p(spec)));

  it("maps architecture aliases like containerd", () => {
    assert.equal(norm("linux/x86_64"), "linux/amd64");
    assert.equal(norm("linux/x86-64"), "linux/amd64");
    assert.equal(norm("linux/aarch64"), "linux/arm64");
    assert.equal(norm("linux/i386"), "linux/386");
    assert.equal(norm("linux/i686"), "linux/386");
    assert.equal(norm("linux/armhf"), "linux/arm/v7");
    assert.equal(norm("linux/armel"), "linux/arm/v6");
    assert.equal(norm("macos/arm64"), "darwin/arm64");
  });

  it("makes arm64 and arm64/v8 the same, and gives bare arm v7", () => {
    assert.equal(norm("linux/arm64/v8"), "linux/arm64");
    assert.equal(norm("linux/aarch64/8"), "linux/arm64");
    assert.equal(norm("linux/arm"), "linux/arm/v7");
    assert.equal(norm("linux/arm/6"), "linux/arm/v6");
    assert.equal(norm("linux/amd64/v1"), "linux/amd64");
    assert.equal(norm("linux/amd64/v3"), "linux/amd64/v3");
    assert.equal(norm("linux/arm64/v9"), "linux/arm64/v9");
  });

  it("lower-cases and keeps other fields", () => {
    const n = normalizePlatform({ os: "Windows", architecture: "X86_64", "os.version": "10.0.17763.1" });
    assert.deepEqual(n, { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" });
  });
});

describe("platformMatches", () => {
  const m = (want: string, have: string): boolean => platformMatches(p(want), p(have));

  it("treats aliases and default variants as equal", () => {
    assert.equal(m("linux/arm64", "linux/arm64/v8"), true);
    assert.equal(m("linux/arm64/v8", "linux/aarch64"), true);
    assert.equal(m("linux/x86_64", "linux/amd64"), true);
    assert.equal(m("linux/arm", "linux/arm/v7"), true);
  });

  it("lets newer variants run older builds but not the reverse", () => {
    assert.equal(m("linux/arm/v8", "linux/arm/v7"), true);
    assert.equal(m("linux/arm/v7", "linux/arm/v6"), true);
    assert.equal(m("linux/arm/v7", "linux/arm/v5"), true);
    assert.equal(m("linux/arm/v6", "linux/arm/v7"), false);
    assert.equal(m("linux/amd64/v3", "linux/amd64/v2"), true);
    assert.equal(m("linux/amd64/v3", "linux/amd64"), true);
    assert.equal(m("linux/amd64", "linux/amd64/v2"), false);
    assert.equal(m("linux/arm64/v9", "linux/arm64"), true);
    assert.equal(m("linux/arm64", "linux/arm64/v9"), false);
  });

  it("never crosses os or architecture", () => {
    assert.equal(m("linux/amd64", "windows/amd64"), false);
    assert.equal(m("linux/arm64", "linux/arm/v7"), false);
    assert.equal(m("linux/amd64", "linux/386"), false);
    assert.equal(m("linux/ppc64le", "linux/ppc64le"), true);
    assert.equal(m("linux/riscv64", "linux/riscv64/rva22"), false);
  });
});

describe("selectPlatform", () => {
  it("prefers the exact variant over a compatible one, whatever the order", () => {
    assert.equal(picked(index("linux/arm/v6", "linux/arm/v7"), "linux/arm/v7"), "linux/arm/v7");
    assert.equal(picked(index("linux/arm/v7", "linux/arm/v6"), "linux/arm/v7"), "linux/arm/v7");
    assert.equal(picked(index("linux/arm/v7", "linux/arm/v6"), "linux/arm/v6"), "linux/arm/v6");
  });

  it("falls back to the highest compatible variant", () => {
    assert.equal(picked(index("linux/arm/v5", "linux/arm/v7", "linux/arm/v6"), "linux/arm/v8"), "linux/arm/v7");
    assert.equal(picked(index("linux/amd64", "linux/amd64/v2", "linux/amd64/v4"), "linux/amd64/v3"), "linux/amd64/v2");
  });

  it("matches arm64 against arm64/v8 and aliases", () => {
    assert.equal(picked(index("linux/amd64", "linux/arm64/v8"), "linux/arm64"), "linux/arm64/v8");
    assert.equal(picked(index("linux/amd64", "linux/arm64"), "linux/aarch64"), "linux/arm64");
  });

  it("takes the first of equally good entries", () => {
    const manifests = index("linux/amd64", "linux/x86_64");
    assert.equal(selectPlatform(manifests, p("linux/amd64")), manifests[0]);
  });

  it("skips entries without a platform and attestation manifests", () => {
    const attestation = entry(3, { os: "unknown", architecture: "unknown" }, { "vnd.docker.reference.type": "attestation-manifest" });
    const manifests = [attestation, entry(1, undefined), entry(2, p("linux/amd64"))];
    assert.equal(selectPlatform(manifests, p("linux/amd64")), manifests[2]);
    assert.throws(() => selectPlatform([attestation], p("unknown/unknown")), PlatformNotFoundError);
  });

  it("throws PlatformNotFoundError listing the available platforms", () => {
    const manifests = [...index("linux/amd64", "linux/arm/v6", undefined), entry(9, { os: "unknown", architecture: "unknown" })];
    assert.throws(
      () => selectPlatform(manifests, p("linux/arm/v5")),
      (err: unknown) => {
        assert.ok(err instanceof PlatformNotFoundError);
        assert.equal(err.wanted, "linux/arm/v5");
        assert.deepEqual(err.available, ["linux/amd64", "linux/arm/v6"]);
        assert.match(err.message, /linux\/amd64, linux\/arm\/v6/);
        return true;
      },
    );
    assert.throws(() => selectPlatform([], p("linux/amd64")), /no platforms/);
  });
});

describe("hostPlatform", () => {
  it("describes this process in normalized form", () => {
    const host = hostPlatform();
    const expectedOs = process.platform === "win32" ? "windows" : process.platform;
    assert.equal(host.os, expectedOs);
    assert.deepEqual(normalizePlatform(host), host);
    const expectedArch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };
    const arch = expectedArch[process.arch];
    if (arch !== undefined) assert.equal(host.architecture, arch);
    if (process.arch === "arm") assert.match(host.variant ?? "", /^v[5-8]$/);
  });
});
