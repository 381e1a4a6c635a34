// One-shot: print the digest of HOST/REPO:TAG with docker-registry-client, as a user's script would.
// Usage: node digest-drc.cjs HOST REPO TAG   (it speaks plain HTTP to 127.0.0.1 and localhost by itself)
"use strict";
const drc = require("docker-registry-client");

const [host, repo, tag] = process.argv.slice(2);
const client = drc.createClientV2({ name: `${host}/${repo}`, maxSchemaVersion: 2 });
client.getManifest({ ref: tag, acceptManifestLists: true }, (error, _manifest, res, manifestStr) => {
  client.close();
  if (error) {
    process.stderr.write(`digest-drc: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${res.headers["docker-content-digest"] ?? drc.digestFromManifestStr(manifestStr)}\n`);
});
