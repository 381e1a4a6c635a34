// One-shot: print the digest of HOST/REPO:TAG with @snyk/docker-registry-v2-client, as a user's script would.
// Usage: node digest-snyk.cjs HOST REPO TAG   (plain HTTP: the benchmark's registry is on loopback)
"use strict";
const { getManifest } = require("@snyk/docker-registry-v2-client");

const [host, repo, tag] = process.argv.slice(2);
// Its default Accept names only Docker's media types, and it refuses an OCI manifest it did not ask for.
const acceptManifest = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
getManifest(host, repo, tag, undefined, undefined, { protocol: "http:", acceptManifest }).then(
  (manifest) => process.stdout.write(`${manifest.indexDigest ?? manifest.manifestDigest}\n`),
  (error) => {
    process.stderr.write(`digest-snyk: ${error && error.message}\n`);
    process.exitCode = 1;
  },
);
