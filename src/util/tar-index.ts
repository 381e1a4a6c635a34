/**
 * An index of a tar file: every entry's name, type, and where its data lies in the file, so one
 * entry can be read later as a plain byte range (fs.createReadStream with start/end).
 *
 * Only headers are read (one positional read per header; data is skipped), so indexing a
 * multi-gigabyte archive costs a few kilobytes of I/O. Formats: ustar (name + prefix), GNU
 * (typeflags 'L'/'K' long names), PAX ('x' records path / linkpath / size), base-256 sizes.
 * Follows Go's archive/tar (what skopeo and docker read with): 'g' global headers are not
 * applied to later entries, header-only types (links, directories, devices, fifos) own no data.
 */
import { open, type FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { QuaysideError, quoted } from "../errors.js";

export type TarEntryType = "file" | "link" | "symlink" | "directory" | "other";

export interface TarEntry {
  /** Cleaned path: no leading "./" or "/", no trailing "/", "." and ".." segments resolved. */
  name: string;
  type: TarEntryType;
  /** Raw typeflag character ("0", "2", "5", ...). */
  typeflag: string;
  /** File offset of the first data byte. */
  offset: number;
  /** Data size in bytes (0 for header-only types). */
  size: number;
  /** Target of a symlink (relative to the link's directory) or hard link (relative to the archive root). */
  linkname?: string;
}

const BLOCK = 512;
/** Longest PAX or GNU long-name payload we accept (they hold a path, not content). */
const MAX_EXTENDED_HEADER = 1024 * 1024;

export class TarFormatError extends QuaysideError {
  constructor(readonly file: string, message: string) {
    super("INVALID_ARCHIVE", `${file}: not a valid tar archive: ${message}`, { category: "invalid-input" });
  }
}

/** "./a//b/../c/" -> "a/c"; the form archive paths are compared in (as skopeo's path.Clean). */
export function cleanTarPath(name: string): string {
  const normalized = posix.normalize(`/${name}`).replace(/\/+$/, "");
  return normalized.replace(/^\/+/, "");
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString("utf8");
}

/** A numeric field: octal text (space/NUL padded) or GNU base-256 (high bit of the first byte set). */
function numeric(block: Buffer, start: number, length: number, file: string, what: string): number {
  const field = block.subarray(start, start + length);
  const first = field[0] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(file, `negative ${what}`);
    let value = first & 0x7f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + (field[i] ?? 0);
      if (!Number.isSafeInteger(value)) throw new TarFormatError(file, `${what} too large`);
    }
    return value;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(file, `${what} is not octal: ${quoted(text)}`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw new TarFormatError(file, `${what} too large`);
  return value;
}

/** The header checksum, accepted as unsigned (POSIX) or signed (some old tars) byte sums. */
function checksumMatches(block: Buffer, file: string): boolean {
  const stored = numeric(block, 148, 8, file, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** PAX records: "<len> <key>=<value>\n" repeated. */
function parsePax(data: Buffer, file: string): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // trailing NUL padding some writers leave
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new TarFormatError(file, "malformed PAX record (no length)");
    const length = Number(data.subarray(pos, space).toString("latin1"));
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > data.length) {
      throw new TarFormatError(file, "malformed PAX record length");
    }
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8");
    if (data[pos + length - 1] !== 0x0a) throw new TarFormatError(file, "PAX record not newline-terminated");
    const eq = record.indexOf("=");
    if (eq <= 0) throw new TarFormatError(file, "PAX record without key");
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

async function readExactly(handle: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new TarFormatError(file, `truncated at byte ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      return "file";
    case "1":
      return "link";
    case "2":
      return "symlink";
    case "5":
      return "directory";
    default:
      return "other";
  }
}

/** Types whose size field says nothing about data following the header (Go's isHeaderOnlyType). */
const HEADER_ONLY = new Set(["1", "2", "3", "4", "5", "6"]);

/** Every entry of the tar file at `path`, in archive order. Throws TarFormatError on a corrupt or truncated archive. */
export async function indexTar(path: string, options: { signal?: AbortSignal | undefined } = {}): Promise<TarEntry[]> {
  const handle = await open(path, "r");
  try {
    const fileSize = (await handle.stat()).size;
    const entries: TarEntry[] = [];
    let position = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Map<string, string> | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      // A clean end of file at a block boundary is accepted as the end (some writers omit the zero blocks).
      if (position + BLOCK > fileSize) {
        if (position === fileSize && longName === undefined && longLink === undefined && pax === undefined) break;
        throw new TarFormatError(path, `truncated at byte ${position}`);
      }
      const block = await readExactly(handle, position, BLOCK, path);
      if (isZeroBlock(block)) break;
      if (!checksumMatches(block, path)) {
        throw new TarFormatError(path, `bad header checksum at byte ${position}${position === 0 ? " (compressed? decompress it first)" : ""}`);
      }
      const flag = String.fromCharCode(block[156] ?? 0);
      const headerSize = numeric(block, 124, 12, path, "size");
      const dataOffset = position + BLOCK;
      const extended = flag === "x" || flag === "g" || flag === "L" || flag === "K";
      if (extended) {
        if (headerSize > MAX_EXTENDED_HEADER) throw new TarFormatError(path, `extended header of ${headerSize} bytes at byte ${position}`);
        if (dataOffset + headerSize > fileSize) throw new TarFormatError(path, `truncated at byte ${fileSize}`);
        const data = await readExactly(handle, dataOffset, headerSize, path);
        if (flag === "x") pax = parsePax(data, path);
        else if (flag === "L") longName = cString(data, 0, data.length);
        else if (flag === "K") longLink = cString(data, 0, data.length);
        // 'g': global PAX records are not applied to later entries (as Go's archive/tar).
        position = dataOffset + Math.ceil(headerSize / BLOCK) * BLOCK;
        continue;
      }

      const magic = block.subarray(257, 263).toString("latin1");
      const version = block.subarray(263, 265).toString("latin1");
      let name = cString(block, 0, 100);
      // POSIX ustar keeps a path prefix at 345; GNU ("ustar  \0") uses that space for other fields.
      if (magic === "ustar\0" && version === "00") {
        const prefix = cString(block, 345, 155);
        if (prefix !== "") name = `${prefix}/${name}`;
      }
      let linkname = cString(block, 157, 100);
      let size = HEADER_ONLY.has(flag) ? 0 : headerSize;
      if (longName !== undefined) name = longName;
      if (longLink !== undefined) linkname = longLink;
      if (pax !== undefined) {
        name = pax.get("path") ?? name;
        linkname = pax.get("linkpath") ?? linkname;
        const paxSize = pax.get("size");
        if (paxSize !== undefined && !HEADER_ONLY.has(flag)) {
          if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) throw new TarFormatError(path, `bad PAX size ${quoted(paxSize)}`);
          size = Number(paxSize);
        }
      }
      longName = longLink = pax = undefined;

      let type = entryType(flag);
      // Old tars mark directories by a trailing slash on a regular-file entry.
      if (type === "file" && flag === "\0" && name.endsWith("/")) type = "directory";
      if (dataOffset + size > fileSize) throw new TarFormatError(path, `entry ${quoted(name)} runs past the end of the file`);
      entries.push({
        name: cleanTarPath(name),
        type,
        typeflag: flag,
        offset: dataOffset,
        size,
        ...(linkname !== "" && (type === "link" || type === "symlink") ? { linkname } : {}),
      });
      position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    }
    return entries;
  } finally {
    await handle.close();
  }
}
