// What quayside uses of undici — Agent and the dispatcher request API — for the CLI bundle only.
// undici's index also loads fetch, WebSocket, cookies (which pulls in Node's own bundled undici),
// mocks and caches: about 70 ms and 9 MB a command never uses. The library keeps using the
// public "undici" entry. If undici moves these files, the bundle build fails loudly.
"use strict";
const Dispatcher = require("undici/lib/dispatcher/dispatcher");
const Agent = require("undici/lib/dispatcher/agent");
const api = require("undici/lib/api");

// What undici's index does so that every dispatcher has request(), stream(), pipeline()...
Object.assign(Dispatcher.prototype, api);

module.exports = { Agent };
