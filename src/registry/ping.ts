/** The base endpoint, GET /v2/: is this a registry, which API version, which auth, are our credentials good. */
import { allHeaders } from "../http/transport.js";
import type { RegistrySession, RequestOptions } from "./session.js";

export interface PingResult {
  status: number;
  apiVersion: string | undefined;
  /** The auth schemes the registry challenged with on /v2/ (lower case), empty if anonymous access is allowed. */
  authSchemes: string[];
  url: string;
}

/** GET /v2/ without credentials: a 401 is an answer here, not a failure. */
export async function ping(session: RegistrySession, options: RequestOptions = {}): Promise<PingResult> {
  const response = await session.send({ method: "GET", path: "/v2/", scopes: [], expect: [200, 401], anonymous: true, signal: options.signal });
  await response.dump();
  const schemes = response.status === 401 ? allHeaders(response.headers, "www-authenticate").map((h) => h.trim().split(/\s/)[0]?.toLowerCase() ?? "") : [];
  return { status: response.status, apiVersion: response.header("docker-distribution-api-version"), authSchemes: schemes, url: response.url };
}

/** GET /v2/ with credentials: succeeds only if the registry accepts them. */
export async function checkAuth(session: RegistrySession, options: RequestOptions = {}): Promise<void> {
  const response = await session.send({ method: "GET", path: "/v2/", scopes: [], expect: [200], signal: options.signal });
  await response.dump();
}
