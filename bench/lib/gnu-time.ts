/** Peak RSS and CPU time of a child process, as GNU time reports them (`/usr/bin/time -f "%M %U %S"`). */
import { readFile } from "node:fs/promises";
import { execOk } from "./exec.js";

export const GNU_TIME = "/usr/bin/time";

export interface ProcessUsage {
  /** Peak RSS of the process, KiB (GNU time's %M); null when GNU time reported nothing readable. */
  rssKb: number | null;
  /** CPU time, user + system, ms: of the process and what it waited for (GNU time's %U + %S). */
  cpuMs: number | null;
}

/** GNU time's "%M %U %S" (KiB, s, s). On a failure it writes "Command exited with non-zero status N" first: take the last line. */
async function readTimeFile(file: string): Promise<ProcessUsage> {
  const text = await readFile(file, "utf8").catch(() => "");
  const fields = (text.trim().split("\n").pop() ?? "").trim().split(/\s+/).map(Number);
  const [kb, user, system] = fields;
  const ok = fields.length === 3 && fields.every(Number.isFinite);
  return ok && kb !== undefined && user !== undefined && system !== undefined ? { rssKb: kb, cpuMs: Math.round((user + system) * 1000) } : { rssKb: null, cpuMs: null };
}

export interface TimedOptions {
  /** Where GNU time writes its report (one file a run: the caller's to remove). */
  timeFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `command ARGS` under GNU time, in a process group of its own; resolves with its peak RSS
 * and CPU time once it exited 0 (rejects otherwise).
 */
export async function timedProcess(command: string, args: readonly string[], options: TimedOptions): Promise<ProcessUsage> {
  await execOk(GNU_TIME, ["-f", "%M %U %S", "-o", options.timeFile, command, ...args], {
    timeoutMs: options.timeoutMs,
    group: true,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  return readTimeFile(options.timeFile);
}
