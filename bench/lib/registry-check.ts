/**
 * Checks a copy landed: HEAD the manifest and every blob on a plain-HTTP registry with
 * node:http (not quayside's client: the benchmark must not trust the code it measures).
 */
import { request } from "node:http";

export interface HeadResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One HEAD with a time limit; rejects on a network error or timeout. */
export function head(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HeadResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "HEAD", headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on("timeout", () => req.destroy(new Error(`HEAD ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

export interface ExpectedImage {
  repository: string;
  tag: string;
  manifest: { mediaType: string; digest: string; size: number };
  blobs: readonly { digest: string; size: number }[];
}

/** Empty when `baseUrl` holds the image exactly (same manifest digest and size, every blob with its size); else what is wrong. */
export async function checkImage(baseUrl: string, image: ExpectedImage): Promise<string[]> {
  const problems: string[] = [];
  const manifest = await head(`${baseUrl}/v2/${image.repository}/manifests/${image.tag}`, { accept: image.manifest.mediaType });
  const digest = manifest.headers["docker-content-digest"];
  if (manifest.status !== 200) problems.push(`manifest ${image.tag}: HTTP ${manifest.status}`);
  else if (digest !== image.manifest.digest) problems.push(`manifest ${image.tag}: digest ${String(digest)}, not ${image.manifest.digest}`);
  else if (Number(manifest.headers["content-length"]) !== image.manifest.size) problems.push(`manifest ${image.tag}: ${String(manifest.headers["content-length"])} bytes, not ${image.manifest.size}`);
  const blobs = await Promise.all(image.blobs.map((b) => head(`${baseUrl}/v2/${image.repository}/blobs/${b.digest}`).then((r) => ({ b, r }))));
  for (const { b, r } of blobs) {
    if (r.status !== 200) problems.push(`blob ${b.digest.slice(7, 19)}: HTTP ${r.status}`);
    else if (Number(r.headers["content-length"]) !== b.size) problems.push(`blob ${b.digest.slice(7, 19)}: ${String(r.headers["content-length"])} bytes, not ${b.size}`);
  }
  return problems;
}
