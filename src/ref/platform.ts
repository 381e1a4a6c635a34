/**
 * Platforms ("linux/arm/v7") with containerd's normalization and compatibility rules, and
 * picking the right child of an index for a platform.
 */
import { endianness } from "node:os";
import { InvalidPlatformError, PlatformNotFoundError, quoted } from "../errors.js";
import type { Descriptor, Platform } from "../media/types.js";

const SPECIFIER = /^[a-z0-9_.-]+$/;

export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3) {
    throw new InvalidPlatformError(spec, "expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7");
  }
  const names = ["os", "architecture", "variant"];
  parts.forEach((part, i) => {
    if (part === "") throw new InvalidPlatformError(spec, `${names[i] ?? "part"} is empty`);
    if (!SPECIFIER.test(part)) throw new InvalidPlatformError(spec, `${names[i] ?? "part"} ${quoted(part)} may only contain [a-z0-9_.-]`);
  });
  const [os = "", architecture = "", variant] = parts;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** "os/arch[/variant]" */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

// ---------------------------------------------------------------------------------------------
// Normalization.

function normalizeOs(os: string): string {
  const lowered = os.toLowerCase();
  return lowered === "macos" ? "darwin" : lowered;
}

/** Canonical architecture and variant; the default variant of an architecture is left out. */
function normalizeArch(architecture: string, variant: string | undefined): { architecture: string; variant: string | undefined } {
  const arch = architecture.toLowerCase();
  const v = variant === undefined || variant === "" ? undefined : variant.toLowerCase();
  switch (arch) {
    case "i386":
    case "i686":
    case "386":
      return { architecture: "386", variant: undefined };
    case "x86_64":
    case "x86-64":
    case "amd64":
      return { architecture: "amd64", variant: v === "v1" ? undefined : v };
    case "aarch64":
    case "arm64":
      return { architecture: "arm64", variant: v === "v8" || v === "8" ? undefined : v };
    case "armhf":
      return { architecture: "arm", variant: "v7" };
    case "armel":
      return { architecture: "arm", variant: "v6" };
    case "arm":
      return { architecture: "arm", variant: normalizeArmVariant(v) };
    default:
      return { architecture: arch, variant: v };
  }
}

function normalizeArmVariant(variant: string | undefined): string {
  if (variant === undefined) return "v7";
  return /^[5-8]$/.test(variant) ? `v${variant}` : variant;
}

export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant);
  const result: Platform = { ...p, os: normalizeOs(p.os), architecture };
  if (variant === undefined) delete result.variant;
  else result.variant = variant;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Compatibility: a CPU of a given variant also runs code built for the older variants.

/** A comparable level for arch/variant (already normalized), or undefined if not ordered. */
function variantLevel(architecture: string, variant: string | undefined): number | undefined {
  switch (architecture) {
    case "arm":
      return variant !== undefined && /^v[5-8]$/.test(variant) ? Number(variant.slice(1)) : undefined;
    case "amd64":
      if (variant === undefined) return 1;
      return /^v[1-4]$/.test(variant) ? Number(variant.slice(1)) : undefined;
    case "arm64":
      return arm64Level(variant);
    default:
      return undefined;
  }
}

/** arm64 "v8" (the default), "v8.2", "v9", "v9.1" -> 800, 802, 900, 901. */
function arm64Level(variant: string | undefined): number | undefined {
  if (variant === undefined) return 800;
  const match = /^v([89])(?:\.(\d))?$/.exec(variant);
  return match ? Number(match[1]) * 100 + Number(match[2] ?? 0) : undefined;
}

/** True if an image built for `have` runs where `want` is asked (same os and arch, compatible variant). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant === h.variant) return true;
  const wantLevel = variantLevel(w.architecture, w.variant);
  const haveLevel = variantLevel(h.architecture, h.variant);
  return wantLevel !== undefined && haveLevel !== undefined && haveLevel <= wantLevel;
}

/** BuildKit's attestation manifests sit in the index as "unknown/unknown": an entry that is no platform's image. */
export function isAttestation(d: Descriptor): boolean {
  return d.platform?.os === "unknown" || d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest";
}

/** Higher is better: an exact variant beats any merely compatible one, then newer variants win. */
function matchScore(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.variant === h.variant) return Number.POSITIVE_INFINITY;
  return variantLevel(h.architecture, h.variant) ?? -1;
}

/**
 * Pick the best descriptor of an index for `want`: exact normalized match first, then the
 * highest compatible variant (first one in index order on ties). Entries without a platform
 * and attestation manifests are skipped.
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor {
  let best: { descriptor: Descriptor; score: number } | undefined;
  const available: string[] = [];
  for (const descriptor of manifests) {
    const platform = descriptor.platform;
    if (platform === undefined || isAttestation(descriptor)) continue;
    available.push(formatPlatform(platform));
    if (!platformMatches(want, platform)) continue;
    const score = matchScore(want, platform);
    if (best === undefined || score > best.score) best = { descriptor, score };
  }
  if (best === undefined) throw new PlatformNotFoundError(formatPlatform(want), [...new Set(available)]);
  return best.descriptor;
}

// ---------------------------------------------------------------------------------------------
// Host platform.

const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  ia32: "386",
  arm64: "arm64",
  arm: "arm",
  mipsel: "mipsle",
  mips64el: "mips64le",
};

function hostArchitecture(): string {
  if (process.arch === "ppc64") return endianness() === "LE" ? "ppc64le" : "ppc64";
  return NODE_ARCH[process.arch] ?? process.arch;
}

/** Node builds for 32-bit ARM record the target ARM version ("6", "7") in their config. */
function hostArmVariant(): string {
  const variables: Readonly<Record<string, unknown>> = process.config.variables;
  const version = variables["arm_version"];
  return typeof version === "string" && /^[5-8]$/.test(version) ? `v${version}` : "v7";
}

/** "linux/amd64, linux/arm64" -> both: the comma-separated list a --platform flag takes. */
export function parsePlatformList(spec: string): Platform[] {
  return spec.split(",").map((p) => parsePlatform(p.trim()));
}

/** The platform this process runs on, normalized. */
export function hostPlatform(): Platform {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const architecture = hostArchitecture();
  const platform: Platform = architecture === "arm" ? { os, architecture, variant: hostArmVariant() } : { os, architecture };
  return normalizePlatform(platform);
}
