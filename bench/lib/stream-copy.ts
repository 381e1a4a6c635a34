/**
 * A reference, not a contender: the least a Node program does to copy one image between two
 * anonymous plain-HTTP registries, with either HTTP stack. Run as its own process:
 *
 *   node build/bench/lib/stream-copy.js http|undici SRC_URL DST_URL REPOSITORY TAG [JOBS]
 *
 * GET the manifest; for every blob (JOBS at a time, default 4 like quayside's copy) POST an
 * upload, stream GET -> sha256 check -> PUT ?digest= with Content-Length; then PUT the
 * manifest. Every blob is verified on the way (a mismatch fails its PUT), as quayside does,
 * so the two rows show what Node and each HTTP stack cost for the same work, and quayside's
 * distance from them is quayside's own.
 */
import { createHash } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";

interface Response {
  status: number;
  location: string | undefined;
  body: Readable;
}

type Send = (method: string, url: string, headers: Record<string, string>, body?: Buffer | Readable) => Promise<Response>;

interface Stack {
  send: Send;
  close(): Promise<void>;
}

const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function httpStack(): Stack {
  const agent = new HttpAgent({ keepAlive: true });
  const send: Send = (method, url, headers, body) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url, { method, headers, agent }, (res: IncomingMessage) => {
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, location, body: res });
      });
      req.on("error", reject);
      if (body instanceof Readable) {
        body.on("error", (error) => req.destroy(error));
        body.pipe(req);
      } else req.end(body);
    });
  return { send, close: async () => agent.destroy() };
}

async function undiciStack(): Promise<Stack> {
  // As bin/quayside.js does: llhttp's WebAssembly on the baseline tier only, so the exit is not held up.
  setFlagsFromString("--liftoff-only");
  const { Agent, request } = await import("undici");
  const dispatcher = new Agent({ connections: 16 });
  const send: Send = async (method, url, headers, body) => {
    const res = await request(url, { method: method as "GET", headers, body: body ?? null, dispatcher });
    const location = res.headers.location;
    return { status: res.statusCode, location: Array.isArray(location) ? location[0] : location, body: res.body };
  };
  return { send, close: () => dispatcher.close() };
}

interface BlobRef {
  digest: string;
  size: number;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Passes bytes on, and fails at the end unless they hash to `digest` and number `size`. */
function verifying(digest: string, size: number): Transform {
  const hash = createHash("sha256");
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      seen += chunk.length;
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const actual = `sha256:${hash.digest("hex")}`;
      callback(actual === digest && seen === size ? null : new Error(`blob ${digest}: got ${actual}, ${seen} bytes`));
    },
  });
}

export async function streamCopy(stack: "http" | "undici", source: string, destination: string, repository: string, tag: string, jobs = 4): Promise<void> {
  const http = stack === "http" ? httpStack() : await undiciStack();
  try {
    await copyWith(http.send, source, destination, repository, tag, jobs);
  } finally {
    await http.close();
  }
}

async function copyWith(send: Send, source: string, destination: string, repository: string, tag: string, jobs: number): Promise<void> {
  const expect = async (res: Response, status: number, what: string): Promise<Buffer> => {
    const body = await readAll(res.body);
    if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${body.toString("utf8").slice(0, 200)}`);
    return body;
  };
  const got = await send("GET", `${source}/v2/${repository}/manifests/${tag}`, { accept: MANIFEST_TYPES });
  const manifestBytes = await expect(got, 200, "GET manifest");
  const manifest = JSON.parse(manifestBytes.toString("utf8")) as { mediaType?: string; config: BlobRef; layers: BlobRef[] };
  const blobs: BlobRef[] = [manifest.config, ...manifest.layers];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let blob = blobs[next++]; blob !== undefined; blob = blobs[next++]) {
      const opened = await send("POST", `${destination}/v2/${repository}/blobs/uploads/`, {});
      await expect(opened, 202, "POST upload");
      const location = new URL(opened.location ?? "", destination);
      location.searchParams.set("digest", blob.digest);
      const download = await send("GET", `${source}/v2/${repository}/blobs/${blob.digest}`, {});
      if (download.status !== 200) throw new Error(`GET blob ${blob.digest}: HTTP ${download.status}`);
      const body = download.body.pipe(verifying(blob.digest, blob.size));
      download.body.on("error", (error) => body.destroy(error));
      const put = await send("PUT", location.toString(), { "content-type": "application/octet-stream", "content-length": String(blob.size) }, body);
      await expect(put, 201, `PUT blob ${blob.digest}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, blobs.length) }, worker));
  const put = await send("PUT", `${destination}/v2/${repository}/manifests/${tag}`, { "content-type": manifest.mediaType ?? "application/vnd.oci.image.manifest.v1+json" }, manifestBytes);
  await expect(put, 201, "PUT manifest");
}

// Run as a program (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [stack, source, destination, repository, tag, jobs] = process.argv.slice(2);
  if ((stack !== "http" && stack !== "undici") || !source || !destination || !repository || !tag) {
    process.stderr.write("usage: stream-copy http|undici SRC_URL DST_URL REPOSITORY TAG [JOBS]\n");
    process.exit(2);
  }
  // Ends by itself once the pools are closed, as the quayside CLI does.
  streamCopy(stack, source, destination, repository, tag, jobs !== undefined ? Number(jobs) : undefined).catch((error: unknown) => {
    process.stderr.write(`stream-copy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
