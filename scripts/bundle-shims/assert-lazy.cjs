// For the CLI bundle: undici calls node:assert as assert(value, message) on its hot paths and
// loads it when it loads (node:assert and what it requires: about 0.2 MB and a few ms a run).
// The check is the same; the real module loads only to report a failed assertion.
"use strict";
function assert(value, message) {
  if (!value) require("node:assert").ok(value, message);
}
assert.ok = assert;
// Anything else a later undici might call goes to the real module.
for (const name of ["equal", "notEqual", "strictEqual", "notStrictEqual", "deepEqual", "deepStrictEqual", "notDeepStrictEqual", "throws", "doesNotThrow", "rejects", "fail", "match"]) {
  assert[name] = (...args) => require("node:assert")[name](...args);
}
module.exports = assert;
