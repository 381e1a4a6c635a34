import { createHash } from "node:crypto";
import { run } from "./exec.js";

/** How to reach a registry: enough of RunningRegistry or of the JSON environment. */
export interface RegistryAccess {
  host: string;
  url: string;
  /** A directory with the CA as ca.crt (TLS registries). */
  certDir?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface SkopeoOptions {
  timeoutMs?: number;
}

/** `docker://HOST/REPO:TAG` or `docker://HOST/REPO@DIGEST`. */
export const dockerRef = (registry: RegistryAccess, name: string): string => `docker://${registry.host}/${name}`;

/**
 * Transport flags for one side ("src", "dest", or "" for inspect and friends): the CA for
 * TLS registries (never skip-verify), plain HTTP allowed only for http:// registries, and
 * explicit credentials or explicitly none, so a developer's auth.json never leaks in.
 */
export function registryFlags(side: "src" | "dest" | "", registry: RegistryAccess, creds?: Credentials | null): string[] {
  const flag = (name: string): string => `--${side ? `${side}-` : ""}${name}`;
  const args: string[] = [];
  if (registry.url.startsWith("https:")) {
    if (registry.certDir) args.push(flag("cert-dir"), registry.certDir);
    args.push(`${flag("tls-verify")}=true`);
  } else {
    args.push(`${flag("tls-verify")}=false`);
  }
  args.push(...(creds ? [flag("creds"), `${creds.username}:${creds.password}`] : [flag("no-creds")]));
  return args;
}

/** Runs skopeo with no policy file needed and a hard time limit; resolves with stdout. */
export async function skopeo(args: readonly string[], options: SkopeoOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { stdout } = await run(
    "skopeo",
    ["--insecure-policy", "--command-timeout", `${Math.ceil(timeoutMs / 1000)}s`, ...args],
    { timeoutMs: timeoutMs + 5000 },
  );
  return stdout;
}

export interface CopyOptions extends SkopeoOptions {
  src?: { registry: RegistryAccess; creds?: Credentials | null };
  dest?: { registry: RegistryAccess; creds?: Credentials | null };
  /** Copy every image of an index (--all). */
  all?: boolean;
  /** Convert on the way (e.g. "v2s2" for Docker schema 2). */
  format?: "oci" | "v2s2";
}

/** skopeo copy between two transports (`oci:DIR:TAG`, `docker://...`). */
export async function skopeoCopy(from: string, to: string, options: CopyOptions = {}): Promise<void> {
  const args = ["copy", "--quiet"];
  if (options.src) args.push(...registryFlags("src", options.src.registry, options.src.creds));
  if (options.dest) args.push(...registryFlags("dest", options.dest.registry, options.dest.creds));
  if (options.all) args.push("--all");
  if (options.format) args.push("--format", options.format);
  await skopeo([...args, from, to], options);
}

export interface RawManifest {
  bytes: Buffer;
  /** sha256 of the exact bytes served. */
  digest: string;
  mediaType: string;
}

/** `skopeo inspect --raw`: the manifest bytes as served, and their digest. */
export async function skopeoInspectRaw(
  registry: RegistryAccess,
  name: string,
  creds?: Credentials | null,
  options: SkopeoOptions = {},
): Promise<RawManifest> {
  const stdout = await skopeo(["inspect", "--raw", ...registryFlags("", registry, creds), dockerRef(registry, name)], options);
  const bytes = Buffer.from(stdout, "utf8");
  const parsed = JSON.parse(stdout) as { mediaType?: string };
  return {
    bytes,
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    mediaType: parsed.mediaType ?? "",
  };
}

/** `skopeo inspect --format '{{.Digest}}'`: the digest skopeo reports for a reference. */
export async function skopeoDigest(
  registry: RegistryAccess,
  name: string,
  creds?: Credentials | null,
  options: SkopeoOptions = {},
): Promise<string> {
  const stdout = await skopeo(
    ["inspect", "--format", "{{.Digest}}", ...registryFlags("", registry, creds), dockerRef(registry, name)],
    options,
  );
  return stdout.trim();
}
