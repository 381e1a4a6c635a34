/**
 * What an image config says about the image, as dreg-client's PlatformImage and dockerreg's
 * helpers show it: history with its commands cleaned, labels, env, entrypoint, cmd, and the
 * size of the layers. Pure: a manifest and a parsed config in, plain data out.
 */
import type { ImageConfig, ImageManifest } from "../media/manifest.js";
import type { Platform } from "../media/types.js";

/** One entry of the config's `history`. */
export interface HistoryEntry {
  /** When the step ran (RFC 3339, as written in the config), if it says. */
  created?: string;
  /** The command, cleaned as dreg-client's `clean_created_by` cleans it: "RUN apt-get ...", "CMD [...]". */
  createdBy: string;
  /** The command exactly as the config has it (dreg-client's `created_by`). */
  rawCreatedBy: string;
  /** The step made no layer (ENV, CMD, LABEL ...). */
  emptyLayer: boolean;
  comment?: string;
  author?: string;
}

export interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
}

/** One platform's image, read: dreg-client's PlatformImage with its config's fields at hand. */
export interface PlatformImage {
  /** The image manifest's digest. */
  digest: string;
  mediaType: string;
  platform: Platform;
  /** "os/arch[/variant]". */
  platformName: string;
  /** The config blob's descriptor. */
  configDescriptor: LayerInfo;
  /** The parsed config blob. */
  config: ImageConfig;
  layers: LayerInfo[];
  /** Sum of the (compressed) layer sizes, as dreg-client's `image_size`: manifest and config not counted. */
  size: number;
  /** The config's `created`. */
  created?: string;
  history: HistoryEntry[];
  labels: Record<string, string>;
  env: string[];
  entrypoint?: string[];
  cmd?: string[];
}

const NOP_PREFIX = "/bin/sh -c #(nop)";
const BUILDKIT_SUFFIX = "# buildkit";
const RUN_SHELL_PREFIX = "RUN /bin/sh -c";
const SHELL_PREFIX = "/bin/sh -c";

/**
 * A history command as a person reads it, as dreg-client cleans it: without the
 * `/bin/sh -c #(nop) ` of a classic builder's metadata step and BuildKit's `# buildkit` suffix,
 * and a shell step (`/bin/sh -c CMD` or `RUN /bin/sh -c CMD`) written `RUN CMD`.
 */
export function cleanCreatedBy(createdBy: string): string {
  let text = createdBy.trim();
  if (text.startsWith(NOP_PREFIX)) text = text.slice(NOP_PREFIX.length).trim();
  if (text.endsWith(BUILDKIT_SUFFIX)) text = text.slice(0, -BUILDKIT_SUFFIX.length).trim();
  if (text.startsWith(RUN_SHELL_PREFIX)) text = `RUN ${text.slice(RUN_SHELL_PREFIX.length).trim()}`;
  else if (text.startsWith(SHELL_PREFIX)) text = `RUN ${text.slice(SHELL_PREFIX.length).trim()}`;
  return text;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const stringField = (record: Record<string, unknown>, key: string): string | undefined => (typeof record[key] === "string" ? record[key] : undefined);
const stringList = (value: unknown): string[] | undefined => (Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined);

/** The config's history, each command cleaned; entries that are not objects are skipped (configs in the wild vary). */
export function imageHistory(config: ImageConfig): HistoryEntry[] {
  return (config.history ?? []).filter(isRecord).map((entry) => {
    const raw = stringField(entry, "created_by") ?? "";
    const created = stringField(entry, "created");
    const comment = stringField(entry, "comment");
    const author = stringField(entry, "author");
    return {
      ...(created !== undefined ? { created } : {}),
      createdBy: cleanCreatedBy(raw),
      rawCreatedBy: raw,
      emptyLayer: entry["empty_layer"] === true,
      ...(comment !== undefined ? { comment } : {}),
      ...(author !== undefined ? { author } : {}),
    };
  });
}

/**
 * When the image was last built: the newest `created` of its history (dockerreg's meaning),
 * else the config's own `created`. Compared as instants; returned as written (nanoseconds kept).
 */
export function newestCreated(config: ImageConfig): string | undefined {
  let newest: { text: string; at: number } | undefined;
  for (const entry of imageHistory(config)) {
    if (entry.created === undefined) continue;
    const at = Date.parse(entry.created);
    if (Number.isNaN(at)) continue;
    if (newest === undefined || at > newest.at) newest = { text: entry.created, at };
  }
  return newest?.text ?? config.created;
}

/** The runtime part of a config (`config.config`): labels, env, entrypoint, cmd. */
export function runtimeConfig(config: ImageConfig): Pick<PlatformImage, "labels" | "env" | "entrypoint" | "cmd"> {
  const runtime = config.config ?? {};
  const labels = isRecord(runtime["Labels"]) ? Object.fromEntries(Object.entries(runtime["Labels"]).filter((e): e is [string, string] => typeof e[1] === "string")) : {};
  const entrypoint = stringList(runtime["Entrypoint"]);
  const cmd = stringList(runtime["Cmd"]);
  return { labels, env: stringList(runtime["Env"]) ?? [], ...(entrypoint !== undefined ? { entrypoint } : {}), ...(cmd !== undefined ? { cmd } : {}) };
}

export function layerInfos(manifest: ImageManifest): LayerInfo[] {
  return manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
}

/** Sum of the layer sizes (dreg-client's `image_size`, dockerreg's image size). */
export function layersSize(manifest: ImageManifest): number {
  return manifest.layers.reduce((sum, l) => sum + l.size, 0);
}

/** Everything a PlatformImage holds, from an image manifest, its parsed config and its platform. */
export function platformImageOf(manifest: ImageManifest, config: ImageConfig, platform: Platform, platformName: string): PlatformImage {
  return {
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    platform,
    platformName,
    configDescriptor: { digest: manifest.config.digest, size: manifest.config.size, mediaType: manifest.config.mediaType },
    config,
    layers: layerInfos(manifest),
    size: layersSize(manifest),
    ...(config.created !== undefined ? { created: config.created } : {}),
    history: imageHistory(config),
    ...runtimeConfig(config),
  };
}
