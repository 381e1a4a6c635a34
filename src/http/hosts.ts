import { isIP } from "node:net";

/** Strip the port and IPv6 brackets: "[::1]:5000" -> "::1", "localhost:5000" -> "localhost". */
export function hostnameOf(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.lastIndexOf(":");
  return colon >= 0 && host.indexOf(":") === colon ? host.slice(0, colon) : host;
}

/** The port of "host:port" or "[v6]:port", else `fallback`. */
export function portOf(host: string, fallback: number): number {
  const match = /:(\d+)$/.exec(host.startsWith("[") ? host.slice(host.indexOf("]") + 1) : host.indexOf(":") === host.lastIndexOf(":") ? host : "");
  return match ? Number(match[1]) : fallback;
}

/** True for localhost, 127.0.0.0/8 and ::1, with or without a port. Loopback traffic never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const name = hostnameOf(host).toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  if (isIP(name) === 6) return name === "::1" || name === "0:0:0:0:0:0:0:1";
  return false;
}
