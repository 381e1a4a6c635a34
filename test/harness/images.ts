import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Agent, fetch, type Dispatcher } from "undici";
import { writeOciLayout, type Platform, type WrittenImage } from "./oci-layout.js";
import {
  dockerRef,
  registryFlags,
  skopeo,
  skopeoCopy,
  skopeoDigest,
  skopeoInspectRaw,
  type Credentials,
  type RegistryAccess,
} from "./skopeo.js";

/** The source images, written once into one OCI layout and pushed to every registry. */
export const SEED_LAYOUT_IMAGES = [
  { tag: "single", platforms: [{ os: "linux", architecture: "amd64", layers: 2 }] },
  { tag: "docker", platforms: [{ os: "linux", architecture: "amd64", layers: 2 }] },
  {
    tag: "multi",
    platforms: [
      { os: "linux", architecture: "amd64", layers: 2 },
      { os: "linux", architecture: "arm64", variant: "v8" },
      { os: "linux", architecture: "arm", variant: "v7" },
    ],
  },
  { tag: "hello", platforms: [{ os: "linux", architecture: "amd64" }] },
  { tag: "tags", platforms: [{ os: "linux", architecture: "amd64" }] },
] as const;

export const TAG_COUNT = 250;
export const CATALOG_REPO_COUNT = 30;
export const tagName = (i: number): string => `t${String(i).padStart(3, "0")}`;
export const catalogRepoName = (i: number): string => `catalog/r${String(i).padStart(2, "0")}`;

export interface SeedLayout {
  dir: string;
  images: WrittenImage[];
}

export interface SeededBlob {
  mediaType: string;
  digest: string;
  size: number;
}

export interface SeededManifest {
  /** sha256 of the manifest bytes the registry serves. */
  digest: string;
  size: number;
  mediaType: string;
  /** From the index entry (children) or the config (single manifests). */
  platform: Platform;
  config: SeededBlob;
  layers: SeededBlob[];
}

export interface SeededImage {
  repository: string;
  tag: string;
  /** "HOST/REPOSITORY:TAG". */
  reference: string;
  /** sha256 of the bytes `skopeo inspect --raw` printed. */
  digest: string;
  /** What `skopeo inspect --format '{{.Digest}}'` printed (equal to digest). */
  skopeoDigest: string;
  mediaType: string;
  size: number;
  /** The one manifest of a single-platform image, or every child of an index. */
  manifests: SeededManifest[];
}

export interface SeededTags {
  repository: string;
  /** Every tag, sorted: t000..t249, all naming one manifest. */
  tags: string[];
  digest: string;
  mediaType: string;
}

export interface CoreSeed {
  /** test/single:v1, one OCI manifest for linux/amd64. */
  single: SeededImage;
  /** test/docker:v1, pushed with --format v2s2 (Docker schema 2 manifest). */
  docker: SeededImage;
  /** test/multi:v1, an OCI index of linux/amd64, linux/arm64/v8, linux/arm/v7. */
  multi: SeededImage;
  /** Every repository seeded, sorted as the catalog lists them. */
  repositories: string[];
}

export interface FullSeed extends CoreSeed {
  /** public/hello:latest, pullable anonymously through the token server. */
  hello: SeededImage;
  /** test/tags with 250 tags. */
  tags: SeededTags;
  /** catalog/r00..catalog/r29, each with tag latest. */
  catalog: string[];
}

export interface SeedTarget extends RegistryAccess {
  /** PEM CA file for TLS registries (for plain fetch). */
  caFile?: string;
}

export interface SeedOptions {
  /** A layout from writeSeedLayout, shared between registries. */
  layout: SeedLayout;
  /** Credentials that may push (null for the anonymous registry). */
  creds: Credentials | null;
  /** Also public/hello, test/tags and the catalog repositories. */
  full?: boolean;
}

export async function writeSeedLayout(dir: string): Promise<SeedLayout> {
  return { dir, images: await writeOciLayout(dir, { images: SEED_LAYOUT_IMAGES }) };
}

/** Pushes the test images with skopeo, the rest with plain HTTP, and records what skopeo sees. */
export async function seedImages(target: SeedTarget, options: SeedOptions & { full: true }): Promise<FullSeed>;
export async function seedImages(target: SeedTarget, options: SeedOptions): Promise<CoreSeed>;
export async function seedImages(target: SeedTarget, options: SeedOptions): Promise<CoreSeed | FullSeed> {
  const { layout, creds } = options;
  const dest = { registry: target, creds };
  const push = (source: string, repository: string, tag: string, extra: { all?: boolean; format?: "v2s2" } = {}) =>
    skopeoCopy(`oci:${layout.dir}:${source}`, `${dockerRef(target, repository)}:${tag}`, { dest, ...extra });

  const pushes = [
    push("single", "test/single", "v1"),
    push("docker", "test/docker", "v1", { format: "v2s2" }),
    push("multi", "test/multi", "v1", { all: true }),
  ];
  if (options.full) pushes.push(push("hello", "public/hello", "latest"), push("tags", "test/tags", tagName(0)));
  await Promise.all(pushes);

  const inspect = (repository: string, tag: string) => inspectImage(target, creds, repository, tag);
  const [single, docker, multi] = await Promise.all([
    inspect("test/single", "v1"),
    inspect("test/docker", "v1"),
    inspect("test/multi", "v1"),
  ]);
  const core: CoreSeed = { single, docker, multi, repositories: ["test/docker", "test/multi", "test/single"] };
  if (!options.full) return core;

  const [hello, first] = await Promise.all([inspect("public/hello", "latest"), inspect("test/tags", tagName(0))]);
  const client = await RegistryHttp.connect(target, creds);
  try {
    const catalog = Array.from({ length: CATALOG_REPO_COUNT }, (_, i) => catalogRepoName(i));
    await client.authorize([
      "repository:test/tags:pull,push",
      ...catalog.map((name) => `repository:${name}:pull,push`),
    ]);
    const raw = await client.getManifest("test/tags", tagName(0), first.mediaType);
    const served = `sha256:${createHash("sha256").update(raw).digest("hex")}`;
    if (served !== first.digest) throw new Error(`test/tags served ${served}, skopeo saw ${first.digest}`);
    const tags = Array.from({ length: TAG_COUNT }, (_, i) => tagName(i));
    const manifest = first.manifests[0];
    if (!manifest) throw new Error("test/tags has no manifest");
    const blobs = [manifest.config, ...manifest.layers].map((b) => b.digest);
    await mapLimit(
      [
        ...tags.slice(1).map((tag) => () => client.putManifest("test/tags", tag, first.mediaType, raw)),
        ...catalog.map((repository) => async () => {
          for (const digest of blobs) await client.mount(repository, digest, "test/tags");
          await client.putManifest(repository, "latest", first.mediaType, raw);
        }),
      ],
      8,
    );
    return {
      ...core,
      hello,
      tags: { repository: "test/tags", tags, digest: first.digest, mediaType: first.mediaType },
      catalog,
      repositories: [...core.repositories, "public/hello", "test/tags", ...catalog].sort(),
    };
  } finally {
    await client.close();
  }
}

interface ManifestJson {
  mediaType?: string;
  config?: SeededBlob;
  layers?: SeededBlob[];
  manifests?: (SeededBlob & { platform?: Platform })[];
}

interface ConfigJson {
  os?: string;
  architecture?: string;
  variant?: string;
}

/** Everything about one pushed image, as skopeo reports it. */
async function inspectImage(
  target: SeedTarget,
  creds: Credentials | null,
  repository: string,
  tag: string,
): Promise<SeededImage> {
  const ref = `${repository}:${tag}`;
  const [raw, reported] = await Promise.all([skopeoInspectRaw(target, ref, creds), skopeoDigest(target, ref, creds)]);
  const parsed = JSON.parse(raw.bytes.toString("utf8")) as ManifestJson;
  let manifests: SeededManifest[];
  if (parsed.manifests) {
    manifests = await Promise.all(
      parsed.manifests.map(async (child) => {
        const childRaw = await skopeoInspectRaw(target, `${repository}@${child.digest}`, creds);
        const json = JSON.parse(childRaw.bytes.toString("utf8")) as ManifestJson;
        if (childRaw.digest !== child.digest) throw new Error(`child ${child.digest} served as ${childRaw.digest}`);
        return describe(childRaw.digest, childRaw.bytes.length, json, child.platform ?? { os: "", architecture: "" });
      }),
    );
  } else {
    const config = await skopeoConfig(target, ref, creds);
    const platform: Platform = {
      os: config.os ?? "",
      architecture: config.architecture ?? "",
      ...(config.variant ? { variant: config.variant } : {}),
    };
    manifests = [describe(raw.digest, raw.bytes.length, parsed, platform)];
  }
  return {
    repository,
    tag,
    reference: `${target.host}/${ref}`,
    digest: raw.digest,
    skopeoDigest: reported,
    mediaType: raw.mediaType,
    size: raw.bytes.length,
    manifests,
  };
}

function describe(digest: string, size: number, json: ManifestJson, platform: Platform): SeededManifest {
  const blob = (b: SeededBlob): SeededBlob => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  if (!json.config || !json.layers) throw new Error(`manifest ${digest} has no config or layers`);
  return {
    digest,
    size,
    mediaType: json.mediaType ?? "",
    platform,
    config: blob(json.config),
    layers: json.layers.map(blob),
  };
}

/** The platform of a single manifest comes from its config. */
async function skopeoConfig(target: SeedTarget, ref: string, creds: Credentials | null): Promise<ConfigJson> {
  const out = await skopeo(["inspect", "--config", "--raw", ...registryFlags("", target, creds), dockerRef(target, ref)]);
  return JSON.parse(out) as ConfigJson;
}

/** Runs tasks with at most `limit` at a time. */
async function mapLimit(tasks: readonly (() => Promise<unknown>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/**
 * Just enough of the registry API to seed quickly (manifest PUTs and blob mounts), with
 * the auth the registry asks for: none, Basic, or a Bearer token from its realm.
 */
class RegistryHttp {
  private authorization: string | undefined;

  private constructor(
    private readonly target: SeedTarget,
    private readonly creds: Credentials | null,
    private readonly dispatcher: Dispatcher,
    private readonly challenge: string | null,
  ) {}

  static async connect(target: SeedTarget, creds: Credentials | null): Promise<RegistryHttp> {
    const ca = target.caFile ? await readFile(target.caFile) : undefined;
    const dispatcher = new Agent({ connect: { ca }, connections: 8 });
    const res = await fetch(`${target.url}/v2/`, { dispatcher, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return new RegistryHttp(target, creds, dispatcher, res.status === 401 ? res.headers.get("www-authenticate") : null);
  }

  /** Gets one credential good for every request that follows. */
  async authorize(scopes: readonly string[]): Promise<void> {
    const basic = this.creds
      ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}`
      : undefined;
    if (!this.challenge) return;
    if (/^basic/i.test(this.challenge)) {
      this.authorization = basic;
      return;
    }
    const param = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(this.challenge ?? "")?.[1];
    const realm = param("realm");
    if (!realm) throw new Error(`cannot parse challenge ${this.challenge}`);
    const url = new URL(realm);
    url.searchParams.set("service", param("service") ?? "");
    for (const scope of scopes) url.searchParams.append("scope", scope);
    const res = await fetch(url, {
      headers: basic ? { authorization: basic } : {},
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    this.authorization = `Bearer ${body.token ?? body.access_token ?? ""}`;
  }

  private async call(method: string, path: string, init: { body?: Buffer; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (this.authorization) headers.authorization = this.authorization;
    return fetch(`${this.target.url}${path}`, {
      method,
      headers,
      body: init.body,
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(30_000),
    });
  }

  async getManifest(repository: string, reference: string, mediaType: string): Promise<Buffer> {
    const res = await this.call("GET", `/v2/${repository}/manifests/${reference}`, { headers: { accept: mediaType } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`GET manifest ${repository}:${reference}: ${res.status} ${body.toString()}`);
    return body;
  }

  async putManifest(repository: string, tag: string, mediaType: string, body: Buffer): Promise<void> {
    const res = await this.call("PUT", `/v2/${repository}/manifests/${tag}`, {
      body,
      headers: { "content-type": mediaType },
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`PUT manifest ${repository}:${tag}: ${res.status} ${text}`);
  }

  async mount(repository: string, digest: string, from: string): Promise<void> {
    const query = new URLSearchParams({ mount: digest, from });
    const res = await this.call("POST", `/v2/${repository}/blobs/uploads/?${query}`);
    const text = await res.text();
    if (res.status !== 201) throw new Error(`mount ${digest} into ${repository}: ${res.status} ${text}`);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
