// For the CLI bundle: commander requires node:child_process when it loads, for executable
// subcommands, which quayside has none of. Load it (about 8 ms) only if spawn is ever called.
"use strict";
module.exports = {
  spawn: (...args) => require("node:child_process").spawn(...args),
};
