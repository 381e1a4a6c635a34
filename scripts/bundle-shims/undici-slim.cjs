// What quayside uses of undici — Agent and the dispatcher's request() — for the CLI bundle only.
// undici's index also loads fetch, WebSocket, cookies (which pulls in Node's own bundled undici),
// mocks and caches: about 70 ms and 9 MB a command never uses; its other dispatcher APIs
// (stream, pipeline, upgrade, connect) are not used either. The library keeps using the public
// "undici" entry. If undici moves these files, the bundle build fails loudly.
"use strict";
const Dispatcher = require("undici/lib/dispatcher/dispatcher");
const Agent = require("undici/lib/dispatcher/agent");

// What undici's index does (for request() only) so that every dispatcher has it.
Dispatcher.prototype.request = require("undici/lib/api/api-request");

module.exports = { Agent };
