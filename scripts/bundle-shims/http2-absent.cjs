// For the CLI bundle: what undici's HTTP/2 client gets on a Node built without http2 (its own
// fallback). quayside never sets allowH2, so node:http2 (about 8 ms to load) is never needed.
"use strict";
module.exports = { constants: {} };
