import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./exec.js";

/** EC P-256 everywhere: key generation is instant, unlike RSA. */
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const DAYS = ["-days", "2"];

export interface CertificateAuthority {
  certFile: string;
  keyFile: string;
}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  /** The CA certificate that signed it: what clients must trust. */
  caFile: string;
  /** A directory holding only `ca.crt`, the layout skopeo's --*-cert-dir and docker expect. */
  certDir: string;
}

export interface SigningCertificate {
  certFile: string;
  keyFile: string;
}

/** A throwaway CA made with the openssl CLI (node cannot issue X.509 certificates). */
export async function createCa(dir: string, name = "quayside test CA"): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, "ca.crt");
  const keyFile = join(dir, "ca.key");
  await run("openssl", [
    "req", "-x509", ...EC_KEY, "-keyout", keyFile, "-out", certFile, ...DAYS,
    "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certFile, keyFile };
}

/** A server certificate for loopback: SAN IP 127.0.0.1 and ::1, DNS localhost. */
export async function createServerCert(ca: CertificateAuthority, dir: string): Promise<ServerCertificate> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, "server.crt");
  const keyFile = join(dir, "server.key");
  const csrFile = join(dir, "server.csr");
  const extFile = join(dir, "server.ext");
  await writeFile(
    extFile,
    [
      "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "",
    ].join("\n"),
  );
  await run("openssl", ["req", "-new", ...EC_KEY, "-keyout", keyFile, "-out", csrFile, "-subj", "/CN=127.0.0.1"]);
  await run("openssl", [
    "x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile,
    "-set_serial", `0x${Date.now().toString(16)}`, "-out", certFile, ...DAYS, "-extfile", extFile,
  ]);
  const certDir = join(dir, "certs.d");
  await mkdir(certDir, { recursive: true });
  await copyFile(ca.certFile, join(certDir, "ca.crt"));
  return { certFile, keyFile, caFile: ca.certFile, certDir };
}

/** A self-signed certificate whose key signs JWTs; the registry trusts it via rootcertbundle. */
export async function createSigningCert(dir: string, name = "quayside token signer"): Promise<SigningCertificate> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, "token-signer.crt");
  const keyFile = join(dir, "token-signer.key");
  await run("openssl", ["req", "-x509", ...EC_KEY, "-keyout", keyFile, "-out", certFile, ...DAYS, "-subj", `/CN=${name}`]);
  return { certFile, keyFile };
}

