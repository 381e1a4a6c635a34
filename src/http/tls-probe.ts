/**
 * Does a server speak TLS at all? A bare handshake that trusts nothing and verifies nothing:
 * it only tells TLS from not-TLS, so probing a plain-HTTP loopback registry costs one refused
 * handshake, not Node's root certificates (about 25 ms to load) plus a failed request.
 */
import { isIP } from "node:net";
import { connect, createSecureContext, type SecureContext } from "node:tls";
import { errorCode } from "./retry.js";

export type TlsProbeResult = "tls" | "plain" | "unknown";

/** What OpenSSL reports when the other side answers a ClientHello with something that is not TLS. */
export const TLS_NOT_SPOKEN_CODES: ReadonlySet<string> = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "EPROTO"]);

const PROBE_TIMEOUT_MS = 5_000;
let trustingNothing: SecureContext | undefined;

/** "tls" after a handshake, "plain" when the answer is not TLS, "unknown" otherwise (refused, reset, timed out). */
export function probeTls(hostname: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<TlsProbeResult> {
  // An empty CA list: no root certificates are loaded (nothing is verified anyway).
  trustingNothing ??= createSecureContext({ ca: [] });
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port, secureContext: trustingNothing, rejectUnauthorized: false, ...(isIP(hostname) === 0 ? { servername: hostname } : {}) });
    const timer = setTimeout(() => settle("unknown"), timeoutMs);
    function settle(result: TlsProbeResult): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once("secureConnect", () => settle("tls"));
    socket.once("error", (err) => settle(TLS_NOT_SPOKEN_CODES.has(errorCode(err) ?? "") ? "plain" : "unknown"));
    socket.once("close", () => settle("unknown"));
  });
}
