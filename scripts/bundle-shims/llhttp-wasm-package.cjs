// For the CLI bundle: undici's HTTP parser without WebAssembly SIMD, which it compiles only where
// SIMD is not supported. Read from the installed undici then, rather than carried in the bundle
// (72 KB of source every command would read).
"use strict";
module.exports = require("undici/lib/llhttp/llhttp-wasm.js");
