/**
 * CPU profiles of an in-process run (`--cpu-prof`): V8's sampling profiler through the
 * inspector, the same data `node --cpu-prof` writes, but of one call instead of the whole
 * benchmark process. The file opens in Chrome DevTools (Performance) or speedscope; the
 * summary lists the functions with the most self time.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { dirname } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** "function file:line", paths shortened to node_modules/..., build/..., node:... */
  frame: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  top: SelfTime[];
  /** Self time by where the code lives: quayside, undici, node core, gc, idle, ... */
  byArea: Record<string, number>;
}

/** Runs fn under the sampling profiler (a sample every `intervalUs`), writes the profile to `file` (also when fn fails). */
export async function profileCall<T>(file: string, fn: () => Promise<T>, intervalUs = 200): Promise<{ value: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
    await session.post("Profiler.start");
    const outcome = await fn().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    if (!outcome.ok) throw outcome.error;
    return { value: outcome.value, profile };
  } finally {
    session.disconnect();
  }
}

function shorten(url: string): string {
  const cut = /\/(node_modules|build|dist)\//.exec(url);
  return cut ? url.slice(cut.index + 1) : url;
}

function area(frame: CallFrame): string {
  const { functionName: name, url } = frame;
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "gc";
  if (name === "(program)") return "program";
  if (url.includes("/node_modules/undici/")) return "undici";
  if (url.includes("/src/") || url.includes("/dist/")) return "quayside";
  if (url.includes("/node_modules/")) return "other npm";
  if (url.startsWith("node:")) return "node core (JS)";
  return url === "" ? "native (hash, socket writes, ...)" : "other";
}

/** The `n` frames with the most self time, and self time by area. */
export function summarize(file: string, profile: CpuProfile, n = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  const areas: Record<string, number> = {};
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (const [i, id] of samples.entries()) {
    const node = byId.get(id);
    const us = deltas[i] ?? 0;
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const frame = `${functionName || "(anonymous)"}${url ? ` ${shorten(url)}:${lineNumber + 1}` : ""}`;
    self.set(frame, (self.get(frame) ?? 0) + us);
    const where = area(node.callFrame);
    areas[where] = (areas[where] ?? 0) + us;
  }
  const ms = (us: number): number => Math.round(us / 100) / 10;
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, us]) => ({ frame, ms: ms(us), share: total > 0 ? Math.round((us / total) * 1000) / 10 : 0 }));
  const byArea = Object.fromEntries(Object.entries(areas).sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, ms(us)]));
  return { file, sampledMs: ms(total), top, byArea };
}
