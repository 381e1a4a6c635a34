// For the CLI bundle: undici's HTTP/2 client, which it picks only when a TLS server chose "h2"
// among the protocols undici offered, and undici offers h2 only when asked to (allowH2), which
// quayside never does. Its code (and node:http2) stays out of the bundle.
"use strict";
module.exports = function connectH2() {
  throw new Error("HTTP/2 is not part of the quayside CLI (undici's allowH2 is never set)");
};
