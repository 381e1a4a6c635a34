/**
 * Turning a registry's non-success answer into a typed RegistryError whose message says what
 * was not found or not allowed, naming the image (a HEAD has no body to say it for us).
 */
import { credentialsRefused, otherCredentialsHint } from "../auth/authenticator.js";
import { bounded, RegistryError, type DistributionErrorEntry } from "../errors.js";
import { parseRetryAfter } from "../http/retry.js";
import type { HttpResponse } from "../http/transport.js";
import { SMALL_JSON_LIMIT } from "../util/limits.js";

/** What the session knows about the credentials of a failed request. */
export interface FailureContext {
  /** The registry as the user names it: "localhost:5000", "docker.io". */
  registry: string;
  /** The scheme of the Authorization header last sent, if any. */
  sent: "basic" | "bearer" | "other" | undefined;
  /** Credentials were found for this registry (given, or in a config file). */
  hasCredentials: boolean;
  /** How long 429s were backed off before this one was given up on (a Quay host's budget). */
  rateLimitBudgetMs?: number | undefined;
}

export async function registryError(response: HttpResponse, method: string, context: FailureContext): Promise<RegistryError> {
  const entries = method === "HEAD" ? [] : await readErrorEntries(response);
  const retryAfterMs = parseRetryAfter(response.header("retry-after"));
  const plain = new RegistryError(response.status, { method, url: response.url }, entries);
  const message = explain(plain, context);
  if (message === undefined && retryAfterMs === undefined) return plain;
  return new RegistryError(response.status, plain.request, entries, undefined, {
    ...(message !== undefined ? { message } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

interface Subject {
  kind: "manifest" | "blob" | "upload" | "tags" | "referrers" | "catalog";
  /** "host/repo", or the registry for the catalog. */
  repository: string;
  /** A tag or digest (manifests), a digest (blobs, referrers). */
  reference?: string;
}

/** One sentence for what a person can act on: not found, not authorized, denied; undefined for the rest. */
function explain(err: RegistryError, context: FailureContext): string | undefined {
  const subject = subjectOf(err.request.url, context.registry);
  if (subject === undefined) return undefined;
  const action = subject.kind === "catalog" ? "list the catalog of" : actionOf(err.request.method);
  if (err.status === 429) {
    const budget = context.rateLimitBudgetMs ?? 0;
    const waited = budget > 0 ? ` after ${budget / 1000} s of backing off` : "";
    return `too many requests: ${context.registry} kept answering 429 to ${action} ${subject.repository}${waited}; fewer jobs (--image-jobs, --jobs) or a --rate would stay under its limit`;
  }
  switch (err.category) {
    case "not-found":
      if (err.code === "NAME_UNKNOWN" || subject.kind === "tags") return `repository ${subject.repository} not found`;
      if (subject.kind === "manifest") return `manifest ${subject.repository}${separator(subject.reference)}${subject.reference} not found`;
      if (subject.kind === "blob") return `blob ${subject.reference} not found in ${subject.repository}`;
      if (subject.kind === "upload") return `upload to ${subject.repository} not found (the registry dropped the session)`;
      return undefined;
    case "unauthorized":
      // Basic credentials sent and refused: they are wrong, not merely short of a permission.
      if (context.sent === "basic") return credentialsRefused(context.registry);
      if (!context.hasCredentials) return `not authorized to ${action} ${subject.repository}: no credentials for ${context.registry}; ${otherCredentialsHint(context.registry)}`;
      return `not authorized to ${action} ${subject.repository} with the credentials given for ${context.registry}`;
    case "denied":
      return `denied: not allowed to ${action} ${subject.repository}${context.hasCredentials ? ` with the credentials given for ${context.registry}` : ` without credentials; ${otherCredentialsHint(context.registry)}`}`;
    default:
      return undefined;
  }
}

function actionOf(method: string): string {
  if (method === "DELETE") return "delete from";
  return method === "GET" || method === "HEAD" ? "pull" : "push to";
}

function separator(reference: string | undefined): string {
  return reference !== undefined && reference.includes(":") ? "@" : ":";
}

const PATHS: ReadonlyArray<[RegExp, Subject["kind"]]> = [
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, "manifest"],
  [/^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/, "upload"],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, "blob"],
  [/^\/v2\/(.+)\/tags\/list$/, "tags"],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, "referrers"],
];

/** What a registry URL is about, from its path (the endpoint modules need not say it twice). */
function subjectOf(url: string, registry: string): Subject | undefined {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  if (path === "/v2/_catalog") return { kind: "catalog", repository: registry };
  for (const [pattern, kind] of PATHS) {
    const match = pattern.exec(path);
    if (match?.[1] === undefined) continue;
    const repository = `${registry}/${bounded(match[1], 150)}`;
    return match[2] === undefined ? { kind, repository } : { kind, repository, reference: bounded(match[2], 100) };
  }
  return undefined;
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
