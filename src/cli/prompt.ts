/** Asking a person at a terminal: a line as typed, or a secret that is not echoed. */
import type { Readable, Writable } from "node:stream";
import { loadLibrary } from "./library.js";

export interface TerminalInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
}

export function isInteractive(stdin: TerminalInput): boolean {
  return stdin.isTTY === true && typeof stdin.setRawMode === "function";
}

/**
 * Print `question` on stderr and read one line from the terminal. With `secret`, the terminal is
 * put in raw mode so nothing typed is shown; backspace edits, Ctrl-C and Ctrl-D give up.
 */
export async function ask(stdin: TerminalInput, stderr: Writable, question: string, options: { secret?: boolean } = {}): Promise<string> {
  const { QuaysideError } = await loadLibrary();
  stderr.write(question);
  const raw = options.secret === true;
  if (raw) stdin.setRawMode?.(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = "";
      const onData = (chunk: Buffer | string): void => {
        for (const ch of typeof chunk === "string" ? chunk : chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return finish(() => resolve(answer));
          if (ch === "\u0003" || ch === "\u0004") return finish(() => reject(new QuaysideError("ABORTED", "login cancelled")));
          if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
          else answer += ch;
        }
      };
      const finish = (settle: () => void): void => {
        stdin.off("data", onData);
        if (raw) stderr.write("\n");
        settle();
      };
      stdin.on("data", onData);
    });
  } finally {
    if (raw) stdin.setRawMode?.(false);
    stdin.pause();
  }
}
