/**
 * `npm run registry`: a throwaway registry for your own experiments, the real CNCF distribution
 * registry on 127.0.0.1 (anonymous, plain HTTP, deletes enabled), until Ctrl-C. Its storage is
 * a temporary directory removed when it stops, unless --storage DIR keeps it.
 *
 *   npm run registry                      # 127.0.0.1:5000
 *   npm run registry -- --port 5001 --storage ./registry-data
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { startRegistry } from "../test/harness/registry.js";

export async function runRegistry(argv: readonly string[]): Promise<number> {
  let port = 5000;
  let storageDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === "--port" && value !== undefined && /^\d+$/.test(value) && Number(value) > 0 && Number(value) < 65536) {
      port = Number(value);
      i++;
    } else if (arg === "--storage" && value !== undefined) {
      storageDir = resolve(value);
      i++;
    } else {
      console.error("usage: npm run registry -- [--port N] [--storage DIR]");
      return 2;
    }
  }
  if (storageDir !== undefined) await mkdir(storageDir, { recursive: true });
  let registry;
  try {
    registry = await startRegistry({ mode: "anonymous", port, ...(storageDir !== undefined ? { storageDir } : {}) });
  } catch (err) {
    const busy = err instanceof Error && err.message.includes("address already in use");
    console.error(busy ? `port ${port} is taken: pick another with  npm run registry -- --port N` : `the registry did not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  console.log(`registry ready at ${registry.host} (storage: ${storageDir ?? "a temporary directory, removed on exit"})`);
  console.log(`try:  npx quayside copy oci:DIR:TAG ${registry.host}/me/app:1.0   and   npx quayside tags ${registry.host}/me/app`);
  console.log("Ctrl-C stops it.");
  // Signal listeners alone do not keep Node running: a timer does, until one arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
    process.once("SIGINT", () => resolveSignal("SIGINT"));
    process.once("SIGTERM", () => resolveSignal("SIGTERM"));
  });
  clearInterval(keepAlive);
  await registry.stop();
  console.log(`\n${signal}: registry stopped`);
  return 0;
}
