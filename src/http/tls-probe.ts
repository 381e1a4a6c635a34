/**
 * Does a server speak TLS at all? One TLS ClientHello over a plain TCP connection, and a look at
 * the first bytes of the answer: a TLS server answers with a TLS record (its ServerHello, or an
 * alert if it dislikes the offer), anything else with something else (an HTTP server: a 400).
 * It only tells TLS from not-TLS, and never completes a handshake: no certificate is looked at,
 * and neither Node's TLS stack nor OpenSSL is loaded for it (about a tenth of a one-shot
 * command's start-up against a plain-HTTP loopback registry).
 */
import { connect, isIP } from "node:net";

export type TlsProbeResult = "tls" | "plain" | "unknown";

/** What OpenSSL reports when the other side answers a ClientHello with something that is not TLS. */
export const TLS_NOT_SPOKEN_CODES: ReadonlySet<string> = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "EPROTO"]);

const PROBE_TIMEOUT_MS = 5_000;
/** TLS record content types a server's first record can have. */
const HANDSHAKE = 0x16;
const ALERT = 0x15;

/** "tls" when a TLS record comes back, "plain" when something else does, "unknown" otherwise (refused, reset, closed, timed out). */
export function probeTls(hostname: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<TlsProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port });
    const timer = setTimeout(() => settle("unknown"), timeoutMs);
    function settle(result: TlsProbeResult): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once("connect", () => socket.write(clientHello(isIP(hostname) === 0 ? hostname : undefined)));
    socket.once("data", (chunk: Buffer) => settle((chunk[0] === HANDSHAKE || chunk[0] === ALERT) && (chunk.length < 2 || chunk[1] === 0x03) ? "tls" : "plain"));
    socket.once("error", () => settle("unknown"));
    socket.once("close", () => settle("unknown"));
  });
}

/**
 * A TLS ClientHello record offering TLS 1.3 and 1.2 with the usual suites, groups and signature
 * schemes (and no key share: a TLS 1.3 server answers with a HelloRetryRequest, a ServerHello
 * all the same). Its random field starts with CRLFs, so that an HTTP server reading it as a
 * request line answers at once instead of waiting for the end of a line.
 */
export function clientHello(serverName?: string): Buffer {
  const u8 = (...values: number[]): Buffer => Buffer.from(values);
  const u16 = (...values: number[]): Buffer => Buffer.concat(values.map((v) => u8(v >> 8, v & 0xff)));
  /** A vector with a length prefix of `bytes` bytes. */
  const vector = (bytes: 1 | 2 | 3, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    const length = Buffer.alloc(bytes);
    length.writeUIntBE(body.length, 0, bytes);
    return Buffer.concat([length, body]);
  };
  const extension = (type: number, ...parts: Buffer[]): Buffer => Buffer.concat([u16(type), vector(2, ...parts)]);
  const random = Buffer.alloc(32, 0x20);
  random.write("\r\n\r\nquayside TLS probe\r\n", "latin1");
  const extensions = [
    ...(serverName !== undefined ? [extension(0x0000, vector(2, u8(0), vector(2, Buffer.from(serverName, "latin1"))))] : []),
    extension(0x000a, vector(2, u16(0x001d, 0x0017, 0x0018))), // supported_groups: x25519, P-256, P-384
    extension(0x000b, vector(1, u8(0))), // ec_point_formats: uncompressed
    extension(0x000d, vector(2, u16(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601))), // signature_algorithms
    extension(0x002b, vector(1, u16(0x0304, 0x0303))), // supported_versions: TLS 1.3, 1.2
    extension(0x0033, vector(2)), // key_share: none offered
  ];
  const hello = Buffer.concat([
    u16(0x0303), // legacy_version: TLS 1.2
    random,
    vector(1), // legacy_session_id
    vector(2, u16(0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035)), // cipher_suites
    vector(1, u8(0)), // compression_methods: null
    vector(2, ...extensions),
  ]);
  const handshake = Buffer.concat([u8(0x01), vector(3, hello)]); // client_hello
  return Buffer.concat([u8(HANDSHAKE), u16(0x0301), vector(2, handshake)]);
}
