/** Turning a registry's non-success answer into a typed RegistryError. */
import { bounded, RegistryError, type DistributionErrorEntry } from "../errors.js";
import type { HttpResponse } from "../http/transport.js";
import { SMALL_JSON_LIMIT } from "../util/limits.js";

export async function registryError(response: HttpResponse, method: string): Promise<RegistryError> {
  const entries = method === "HEAD" ? [] : await readErrorEntries(response);
  return new RegistryError(response.status, { method, url: response.url }, entries);
}

async function readErrorEntries(response: HttpResponse): Promise<DistributionErrorEntry[]> {
  let text: string;
  try {
    text = Buffer.from(await response.bytes(SMALL_JSON_LIMIT)).toString("utf8");
  } catch {
    return [];
  }
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(body.errors)) return [];
    return body.errors.flatMap((e: unknown): DistributionErrorEntry[] => {
      if (typeof e !== "object" || e === null) return [];
      const { code, message, detail } = e as Record<string, unknown>;
      if (typeof code !== "string") return [];
      // Bounded here: the code becomes the error's code and both go into its one-line message.
      return [{ code: bounded(code, 64), message: typeof message === "string" ? bounded(message) : "", ...(detail !== undefined ? { detail } : {}) }];
    });
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the first line as the message.
    const line = bounded(text.trim().split("\n")[0] ?? "");
    return line ? [{ code: `HTTP_${response.status}`, message: line }] : [];
  }
}
