// For the CLI bundle: undici's client loads node:http (the whole HTTP/1 client and server of
// Node, about 0.6 MB and several ms a run) for two things, read when it loads:
// - http.maxHeaderSize: the --max-http-header-size option (default 16 KiB), read here from the
//   command line and NODE_OPTIONS, where Node reads it;
// - http.IncomingMessage, compared with a stream's constructor before destroying it: no stream
//   quayside hands undici is one (the CLI never loads node:http), so a class nothing is made from.
"use strict";
const NODE_DEFAULT = 16 * 1024;

function maxHeaderSize() {
  const args = [...(process.env.NODE_OPTIONS ?? "").split(/\s+/), ...process.execArgv];
  let size = NODE_DEFAULT;
  for (let i = 0; i < args.length; i++) {
    const match = /^--max-http-header-size(?:=(\d+))?$/.exec(args[i]);
    if (match) size = Number(match[1] ?? args[i + 1]);
  }
  return size;
}

module.exports = {
  maxHeaderSize: maxHeaderSize(),
  IncomingMessage: class IncomingMessageNeverLoaded {},
};
