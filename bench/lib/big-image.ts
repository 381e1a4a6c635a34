/**
 * A big image in an OCI image layout, written as a stream: each layer is a real tar of one
 * file of random bytes, gzip-compressed, hashed twice on the way (the tar for the config's
 * diff_ids, the gzip for the blob digest) and written to disk chunk by chunk, so memory holds
 * a few MiB whatever the layer size. test/harness/oci-layout.ts writes tiny layers in memory;
 * this is its big sibling, with the same layout rules (blobs to a temporary name, then renamed).
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

// The same media type names the test fixtures use (kept apart from src/ on purpose: fixtures do not trust the code under test).
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../../test/harness/oci-layout.js";

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BigLayer extends BlobDescriptor {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Bytes of random content in the layer's one file. */
  contentBytes: number;
}

export interface BigImage {
  dir: string;
  tag: string;
  manifest: BlobDescriptor;
  /** The manifest's exact bytes (its digest is their sha256). */
  manifestBytes: Buffer;
  config: BlobDescriptor;
  layers: BigLayer[];
  /** Config and layers: every blob a copy moves. */
  blobs: BlobDescriptor[];
  /** Sum of the blob sizes (compressed). */
  blobBytes: number;
}

export interface BigImageSpec {
  tag: string;
  /** Random content per layer, bytes; one layer each. */
  layerBytes: readonly number[];
  /** gzip level (default 1: random data does not compress anyway). */
  gzipLevel?: number;
  signal?: AbortSignal;
}

const CHUNK = 1024 * 1024;
const BLOCK = 512;
const FIXED_MTIME_S = Math.floor(Date.parse("2024-01-02T03:04:05Z") / 1000);
const CREATED = "2024-01-02T03:04:05Z";

const sha256 = (data: Uint8Array): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A POSIX ustar header for one regular file. */
export function ustarHeader(name: string, size: number, mtimeS = FIXED_MTIME_S): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  if (size >= 8 ** 11) throw new Error(`tar entry too big for ustar: ${size}`);
  const header = Buffer.alloc(BLOCK);
  const octal = (value: number, width: number): string => `${value.toString(8).padStart(width - 1, "0")}\0`;
  header.write(name, 0, 100, "utf8");
  header.write(octal(0o644, 8), 100, "ascii");
  header.write(octal(0, 8), 108, "ascii");
  header.write(octal(0, 8), 116, "ascii");
  header.write(octal(size, 12), 124, "ascii");
  header.write(octal(mtimeS, 12), 136, "ascii");
  header.write("        ", 148, "ascii");
  header.write("0", 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  header.write("root", 265, "ascii");
  header.write("root", 297, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return header;
}

/** The tar, chunk by chunk: header, `size` random bytes in fresh 1 MiB buffers, padding, the two end blocks. */
async function* tarOfRandomFile(name: string, size: number): AsyncGenerator<Buffer> {
  yield ustarHeader(name, size);
  for (let left = size; left > 0; ) {
    const n = Math.min(CHUNK, left);
    // A fresh buffer each time: the one before may still be queued downstream.
    yield randomFillSync(Buffer.allocUnsafe(n));
    left -= n;
  }
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  yield Buffer.alloc(pad + 2 * BLOCK);
}

/** A pass-through that hashes (sha256) and counts what flows through it. */
function hashing(): { stream: Transform; result: () => { digest: string; size: number } } {
  const hash = createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${hash.digest("hex")}`, size }) };
}

/**
 * Writes the image into `dir` (created if needed) as an OCI layout whose index.json names it
 * `tag`, so `skopeo copy oci:DIR:TAG docker://...` pushes it. Returns every digest.
 */
export async function writeBigOciLayout(dir: string, spec: BigImageSpec): Promise<BigImage> {
  const blobsDir = join(dir, "blobs", "sha256");
  await mkdir(blobsDir, { recursive: true });
  const putFile = async (temp: string, digest: string): Promise<void> => {
    await rename(temp, join(blobsDir, digest.slice("sha256:".length)));
  };
  const putBytes = async (mediaType: string, data: Buffer): Promise<BlobDescriptor> => {
    const digest = sha256(data);
    const temp = join(blobsDir, `.${randomBytes(6).toString("hex")}.tmp`);
    await writeFile(temp, data);
    await putFile(temp, digest);
    return { mediaType, digest, size: data.length };
  };

  const layers: BigLayer[] = [];
  for (const [i, contentBytes] of spec.layerBytes.entries()) {
    const temp = join(blobsDir, `.layer${i}.${randomBytes(6).toString("hex")}.tmp`);
    const tar = hashing();
    const gz = hashing();
    try {
      await pipeline(
        Readable.from(tarOfRandomFile(`bench/layer${i + 1}.bin`, contentBytes)),
        tar.stream,
        createGzip({ level: spec.gzipLevel ?? 1, chunkSize: 64 * 1024 }),
        gz.stream,
        createWriteStream(temp),
        spec.signal ? { signal: spec.signal } : {},
      );
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const compressed = gz.result();
    await putFile(temp, compressed.digest);
    layers.push({ mediaType: OCI_LAYER_GZIP, digest: compressed.digest, size: compressed.size, diffId: tar.result().digest, contentBytes });
  }

  const config = await putBytes(
    OCI_CONFIG,
    Buffer.from(
      JSON.stringify({
        created: CREATED,
        architecture: "amd64",
        os: "linux",
        config: { Env: ["PATH=/usr/local/bin:/usr/bin:/bin"], Cmd: ["/bin/sh"], Labels: { "quayside.bench": spec.tag } },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
        history: layers.map((l, i) => ({ created: CREATED, created_by: `quayside bench layer ${i + 1}: ${l.contentBytes} random bytes` })),
      }),
    ),
  );
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  const manifest = await putBytes(OCI_MANIFEST, manifestBytes);

  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ ...manifest, annotations: { "org.opencontainers.image.ref.name": spec.tag } }],
  };
  const indexTemp = join(dir, `.index.${randomBytes(6).toString("hex")}.tmp`);
  await writeFile(indexTemp, JSON.stringify(index));
  await rename(indexTemp, join(dir, "index.json"));

  const blobs = [config, ...layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }))];
  return { dir, tag: spec.tag, manifest, manifestBytes, config, layers, blobs, blobBytes: blobs.reduce((sum, b) => sum + b.size, 0) };
}
