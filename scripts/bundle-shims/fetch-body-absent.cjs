// For the CLI bundle: undici's client loads fetch's body code (with webidl, FormData, MIME parsing:
// 60 KB of source every command would read) only to send a FormData body, which quayside never does.
"use strict";
module.exports = {
  extractBody() {
    throw new Error("FormData request bodies are not part of the quayside CLI");
  },
};
