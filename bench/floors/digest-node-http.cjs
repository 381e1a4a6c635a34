// The floor of a one-shot digest on Node's own HTTP client (node:http), the
// lightest there is in Node: it sends the one HEAD quayside sends and prints the registry's Docker-Content-Digest.
// Nothing else: no command line, no credentials, no TLS probe, no checks.
// Usage: node digest-node-http.cjs HOST REPO TAG   (plain HTTP: the benchmark's registry is on loopback)
"use strict";
const http = require("node:http");

const [host, repo, tag] = process.argv.slice(2);
const accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
http
  .request(`http://${host}/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: { accept } }, (response) => {
    if (response.statusCode !== 200) {
      process.stderr.write(`digest-node-http: HTTP ${response.statusCode}\n`);
      process.exit(1);
    }
    process.stdout.write(`${response.headers["docker-content-digest"]}\n`);
    process.exit(0);
  })
  .on("error", (error) => {
    process.stderr.write(`digest-node-http: ${error.message}\n`);
    process.exit(1);
  })
  .end();
