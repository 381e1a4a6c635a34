/** Small stream helpers shared by the HTTP stack, the registry client and the stores. */
import { Readable, Transform } from "node:stream";
import { ProtocolError } from "../errors.js";

/** Read a whole stream into memory, refusing more than `limit` bytes (manifests, configs, error bodies). */
export async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > limit) {
      stream.destroy();
      throw new ProtocolError(`${what} is larger than ${formatLimit(limit)}; not reading more`, { code: "TOO_LARGE" });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** "32 MiB", "64 KiB", "100 bytes". */
function formatLimit(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** Bytes as a byte stream of one chunk (a view, not a copy: the bytes are not changed after). */
export function bytesStream(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)], { objectMode: false });
}

/** Content that is either bytes or a stream, as a stream. */
export function toReadable(content: Readable | Uint8Array): Readable {
  return content instanceof Uint8Array ? bytesStream(content) : content;
}

/** A pass-through that reports the running byte count (progress bars). */
export function countingStream(onProgress: (bytes: number) => void): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.byteLength;
      onProgress(bytes);
      callback(null, chunk);
    },
  });
}
