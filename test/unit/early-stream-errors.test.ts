/**
 * Streams that fail before anyone reads them: a small blob that does not verify, a file read that
 * fails while the upload session opens, a push waiting its turn. Each must end as a rejection of
 * the call that owns the stream, never as an uncaught exception. A listener records any uncaught
 * exception; each test asserts it stayed silent.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createVerifyingStream, digestOf } from "../../src/digest/digest.js";
import { DigestMismatchError } from "../../src/errors.js";
import { MediaType } from "../../src/media/types.js";
import { RegistryClient } from "../../src/registry/client.js";
import { DockerArchiveStore } from "../../src/store/docker-archive.js";
import { OciLayoutStore } from "../../src/store/oci-layout.js";

const uncaught: unknown[] = [];
const record = (err: unknown): void => void uncaught.push(err);
let work: string;

before(async () => {
  process.on("uncaughtException", record);
  work = await mkdtemp(join(tmpdir(), "quayside-early-errors-"));
});
after(async () => {
  process.off("uncaughtException", record);
  await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  uncaught.length = 0;
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const discard = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

/** A stream that fails `ms` from now, before anyone reads it. */
function failingSoon(message: string, ms = 5): Readable {
  const stream = new PassThrough();
  stream.write("some bytes");
  setTimeout(() => stream.destroy(new Error(message)), ms);
  return stream;
}

async function assertNoUncaught(): Promise<void> {
  await tick(30);
  assert.deepEqual(uncaught.map(String), []);
}

describe("createVerifyingStream", () => {
  it("keeps an error that happened before anyone read it for the reader that comes later", async () => {
    const verifier = createVerifyingStream(digestOf("right"), { expectedSize: 5 });
    verifier.end(Buffer.from("wrong")); // small enough to be verified, and fail, unread
    await tick(20);
    assert.ok(verifier.errored instanceof DigestMismatchError);
    await assert.rejects(pipeline(verifier, discard()), DigestMismatchError);
    await assertNoUncaught();
  });
});

describe("uploads whose source fails while the session opens", () => {
  let server: Server;
  let origin: string;
  const requests: Array<{ method: string; url: string }> = [];
  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push({ method: req.method ?? "", url: req.url ?? "" });
      req.resume();
      if (req.method === "POST") {
        // Slow to open the session: the source fails meanwhile.
        setTimeout(() => {
          res.writeHead(202, { location: "/v2/app/blobs/uploads/session-1?_state=abc", "content-length": "0" });
          res.end();
        }, 50);
        return;
      }
      res.writeHead(req.method === "DELETE" ? 204 : 500, { "content-length": "0" });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  beforeEach(() => {
    requests.length = 0;
  });

  for (const kind of ["with its digest and size (one PUT)", "without a digest (PATCH then PUT)"] as const) {
    it(`${kind}: rejects with the source's error, sends no body, cancels the session`, async () => {
      const client = new RegistryClient(origin, { plainHttp: true, dockerConfig: false, retry: { retries: 0 } });
      try {
        const known = kind.startsWith("with") ? { digest: digestOf("some bytes"), size: 10 } : {};
        await assert.rejects(client.pushBlob("app", failingSoon("disk went away"), { ...known, skipExisting: false }), /disk went away/);
      } finally {
        await client.close();
      }
      assert.deepEqual(
        requests.map((r) => `${r.method} ${r.url}`),
        ["POST /v2/app/blobs/uploads/", "DELETE /v2/app/blobs/uploads/session-1?_state=abc"],
      );
      await assertNoUncaught();
    });
  }
});

describe("stores given a stream that fails before its turn", () => {
  const layer = Buffer.from("a layer of a few bytes");
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: digestOf(layer), size: layer.length };

  it("an OCI layout push rejects with it, and leaves no temporary file", async () => {
    const dir = join(work, "layout");
    const store = await OciLayoutStore.open(dir, { create: true });
    await assert.rejects(store.push(descriptor, failingSoon("source gone", 0)), /source gone/);
    await assert.rejects(store.push(descriptor, Promise.resolve(failingSoon("source gone too", 0))), /source gone too/);
    assert.deepEqual(await readdir(join(dir, "blobs", "sha256")).catch(() => []), []);
    await assertNoUncaught();
  });

  it("a docker archive push queued behind another rejects with it", async () => {
    const store = await DockerArchiveStore.create(join(work, "queued.tar"));
    const first = new PassThrough();
    const writing = store.push(descriptor, first);
    const other = Buffer.from("another layer");
    const queued = store.push({ ...descriptor, digest: digestOf(other), size: other.length }, failingSoon("source gone", 0));
    await tick(20); // the queued stream has failed while the first entry is still being written
    first.end(layer);
    await writing;
    await assert.rejects(queued, /source gone/);
    await store.abort();
    await assertNoUncaught();
  });
});
