// For the CLI bundle: undici's HTTP parser (llhttp, WebAssembly with SIMD) as a compiled module.
// undici decodes it from base64 and compiles it on the main thread when it first parses a
// response; bin/load-cli.js starts that compile on a background thread when the library loads
// (from dist/llhttp_simd.wasm, written by the build), so it is usually ready by then. If it is
// not, or failed, it is compiled here as undici would, and undici falls back to its parser
// without SIMD if that throws.
"use strict";
module.exports = () => require("quayside-cli:http-parser").compiledModule();
