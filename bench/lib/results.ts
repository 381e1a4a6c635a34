/** Results files: small JSON under bench/results/, written to a temporary name and renamed into place. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { cpus, platform, release } from "node:os";
import { join } from "node:path";
import { RESULTS_DIR } from "./paths.js";

export interface Machine {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
  };
}

/** Writes bench/results/NAME.json; returns its path. */
export async function writeResults(name: string, value: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  const temp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, file);
  return file;
}
