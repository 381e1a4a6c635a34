/**
 * Chunked blob uploads that resume (RegistryClient.pushBlob with chunkSize) against a fake upload
 * endpoint on 127.0.0.1 that keeps what it was sent, as a registry does, and injects what a real
 * registry rarely produces on demand: a 416 after having kept part of a PATCH, a connection
 * dropped in the middle of one. Only the public RegistryClient API is used.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { NetworkError } from "../../src/errors.js";
import { RegistryClient } from "../../src/registry/client.js";

const REPOSITORY = "team/app";
const CHUNK = 64 * 1024;
/** Resumes per chunk after a 416 or a dropped connection (MAX_CHUNK_RESUMES in src/registry/upload.ts). */
const MAX_RESUMES = 3;
/** 3 whole chunks and a short one. */
const BLOB = randomBytes(3 * CHUNK + 8315);
const BLOB_DIGEST = `sha256:${createHash("sha256").update(BLOB).digest("hex")}`;

/** What the fake does with the Nth PATCH (1-based) given the bytes it has before it. */
type PatchFault = { kind: "416"; keep: number } | { kind: "drop"; keep: number } | undefined;

interface Patch {
  start: number;
  end: number;
  /** Bytes the server received before it answered or dropped. */
  received: number;
}

/**
 * One upload endpoint: POST opens a session, PATCH appends at the session's length (416 if the
 * Content-Range starts elsewhere), GET reports `Range: 0-N`, PUT ?digest= completes if the bytes
 * kept have that digest. The blob HEAD answers 404.
 */
class FakeUploads {
  readonly sessions = new Map<string, Buffer>();
  readonly patches: Patch[] = [];
  readonly log: string[] = [];
  completed: { digest: string; bytes: Buffer } | undefined;
  fault: (n: number) => PatchFault = () => undefined;
  port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server = createServer((req, res) => this.#handle(req, res));

  async start(): Promise<void> {
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  reset(): void {
    this.sessions.clear();
    this.patches.length = 0;
    this.log.length = 0;
    this.completed = undefined;
    this.fault = () => undefined;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    this.log.push(`${req.method} ${url.pathname}`);
    const uploads = `/v2/${REPOSITORY}/blobs/uploads/`;
    const id = url.pathname.startsWith(uploads) ? url.pathname.slice(uploads.length) : "";
    const session = this.sessions.get(id);
    if (req.method === "POST" && url.pathname === uploads) {
      const fresh = `s${this.sessions.size + 1}`;
      this.sessions.set(fresh, Buffer.alloc(0));
      return void drain(req, () => empty(res, 202, { location: uploads + fresh, "docker-upload-uuid": fresh, range: "0-0" }));
    }
    if (session !== undefined && req.method === "PATCH") return this.#patch(id, session, req, res);
    if (session !== undefined && req.method === "GET") {
      return empty(res, 204, { location: uploads + id, range: `0-${session.length - 1}`, "docker-upload-uuid": id });
    }
    if (session !== undefined && req.method === "PUT") {
      return void drain(req, () => {
        const digest = url.searchParams.get("digest") ?? "";
        const actual = `sha256:${createHash("sha256").update(session).digest("hex")}`;
        if (digest !== actual) return errorBody(res, 400, "DIGEST_INVALID", `kept bytes have ${actual}`);
        this.completed = { digest, bytes: session };
        this.sessions.delete(id);
        empty(res, 201, { location: `/v2/${REPOSITORY}/blobs/${digest}`, "docker-content-digest": digest });
      });
    }
    if (req.method === "HEAD" && url.pathname.startsWith(`/v2/${REPOSITORY}/blobs/`)) return void drain(req, () => empty(res, 404));
    if (url.pathname === "/v2/") return void drain(req, () => empty(res, 200));
    drain(req, () => errorBody(res, 404, "NOT_FOUND", `${req.method} ${url.pathname}`));
  }

  #patch(id: string, session: Buffer, req: IncomingMessage, res: ServerResponse): void {
    const range = /^(\d+)-(\d+)$/.exec(req.headers["content-range"] ?? "");
    const patch: Patch = { start: Number(range?.[1] ?? -1), end: Number(range?.[2] ?? -1), received: 0 };
    this.patches.push(patch);
    const fault = this.fault(this.patches.length);
    const chunks: Buffer[] = [];
    const keep = (bytes: Buffer): void => void this.sessions.set(id, Buffer.concat([session, bytes]));
    let dropped = false;
    req.on("data", (data: Buffer) => {
      if (dropped) return;
      chunks.push(data);
      patch.received += data.length;
      if (fault?.kind === "drop" && patch.received >= fault.keep) {
        // Part of the body made it to storage, then the connection went.
        dropped = true;
        keep(Buffer.concat(chunks).subarray(0, fault.keep));
        req.socket.destroy();
      }
    });
    req.on("end", () => {
      if (dropped) return;
      const body = Buffer.concat(chunks);
      if (patch.start !== session.length || patch.end - patch.start + 1 !== body.length) {
        return errorBody(res, 416, "BLOB_UPLOAD_INVALID", `expected a range starting at ${session.length}`, { range: `0-${session.length - 1}` });
      }
      if (fault?.kind === "416") {
        keep(body.subarray(0, fault.keep));
        return errorBody(res, 416, "BLOB_UPLOAD_INVALID", "range not satisfiable (injected)");
      }
      keep(body);
      empty(res, 202, { location: `/v2/${REPOSITORY}/blobs/uploads/${id}`, range: `0-${session.length + body.length - 1}` });
    });
  }
}

function drain(req: IncomingMessage, then: () => void): void {
  req.resume();
  req.on("end", then);
}

function empty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-length": "0", ...headers });
  res.end();
}

function errorBody(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const text = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** The blob as a stream of pieces that do not line up with the chunks. */
const blobStream = (): Readable => Readable.from(Array.from({ length: Math.ceil(BLOB.length / 10_000) }, (_, i) => BLOB.subarray(i * 10_000, (i + 1) * 10_000)));

describe("RegistryClient.pushBlob with chunkSize: resuming uploads", () => {
  const server = new FakeUploads();
  let client: RegistryClient;

  before(() => server.start());
  beforeEach(async () => {
    await client?.close();
    server.reset();
    client = new RegistryClient(`127.0.0.1:${server.port}`, {
      plainHttp: true,
      dockerConfig: false,
      retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 100 },
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
    });
  });
  after(async () => {
    await client?.close();
    await server.close();
  });

  it("without faults: one PATCH per chunk, at consecutive offsets, and the server holds the blob", async () => {
    const result = await client.pushBlob(REPOSITORY, blobStream(), { chunkSize: CHUNK });
    assert.deepEqual(
      server.patches.map((p) => p.start),
      [0, CHUNK, 2 * CHUNK, 3 * CHUNK],
    );
    assert.ok(server.completed?.bytes.equals(BLOB));
    assert.equal(result.descriptor.digest, BLOB_DIGEST);
    assert.equal(result.descriptor.size, BLOB.length);
  });

  it("a 416 after the server kept half of a PATCH: resumes at the server's Range, and the blob is whole", async () => {
    const half = CHUNK / 2;
    server.fault = (n) => (n === 2 ? { kind: "416", keep: half } : undefined);
    const result = await client.pushBlob(REPOSITORY, blobStream(), { chunkSize: CHUNK, digest: BLOB_DIGEST, size: BLOB.length });
    assert.deepEqual(
      server.patches.map((p) => [p.start, p.end]),
      [
        [0, CHUNK - 1],
        [CHUNK, 2 * CHUNK - 1],
        // Neither from 0 nor from the chunk's start: from what the server said it has.
        [CHUNK + half, 2 * CHUNK - 1],
        [2 * CHUNK, 3 * CHUNK - 1],
        [3 * CHUNK, BLOB.length - 1],
      ],
    );
    assert.equal(server.log.filter((l) => l.startsWith("GET /v2/team/app/blobs/uploads/")).length, 1, "one status request");
    assert.ok(server.completed?.bytes.equals(BLOB), "the server assembled the source's bytes");
    assert.equal(server.completed?.digest, BLOB_DIGEST);
    assert.equal(result.descriptor.digest, BLOB_DIGEST);
    assert.equal(result.outcome, "uploaded");
  });

  it("a connection dropped in the middle of a PATCH after some bytes were kept: resumes at the server's Range, and the blob is whole", async () => {
    const kept = 1000;
    server.fault = (n) => (n === 3 ? { kind: "drop", keep: kept } : undefined);
    const progress: number[] = [];
    const result = await client.pushBlob(REPOSITORY, blobStream(), { chunkSize: CHUNK, onProgress: (n) => progress.push(n) });
    assert.deepEqual(
      server.patches.map((p) => p.start),
      [0, CHUNK, 2 * CHUNK, 2 * CHUNK + kept, 3 * CHUNK],
    );
    assert.ok(server.patches[2]!.received < CHUNK, "the dropped PATCH was cut short");
    assert.ok(server.completed?.bytes.equals(BLOB), "the server assembled the source's bytes");
    assert.equal(result.descriptor.digest, BLOB_DIGEST);
    assert.equal(result.descriptor.size, BLOB.length);
    assert.equal(progress.at(-1), BLOB.length);
  });

  it("a server that drops every PATCH: a NetworkError after a bounded number of resumes, each from the server's Range", async () => {
    const kept = 100;
    server.fault = () => ({ kind: "drop", keep: kept });
    await assert.rejects(client.pushBlob(REPOSITORY, blobStream(), { chunkSize: CHUNK }), NetworkError);
    const starts = server.patches.map((p) => p.start);
    assert.ok(starts.length > 1, "it resumed");
    assert.ok(starts.length <= 1 + MAX_RESUMES, `at most ${MAX_RESUMES} resumes, made ${starts.length - 1}`);
    assert.deepEqual(
      starts,
      starts.map((_, i) => i * kept),
    );
    assert.equal(server.completed, undefined);
  });
});
