import { redactUrl } from "../errors.js";

export { redactUrl };

const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-registry-auth"]);

/** A copy of headers fit for a log line: credentials replaced, only the scheme of Authorization kept. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(", ") : value;
    if (SECRET_HEADERS.has(name.toLowerCase())) {
      const scheme = /^(\w+)\s/.exec(text)?.[1];
      out[name] = scheme ? `${scheme} REDACTED` : "REDACTED";
    } else {
      out[name] = text;
    }
  }
  return out;
}
