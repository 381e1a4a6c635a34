/**
 * Ctrl-C and SIGTERM: the first one aborts the running operation (which then removes its
 * temporary files and cancels its upload sessions) and the command says what was interrupted;
 * a second one exits at once.
 */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** The reason an interrupted command's signal is aborted with. */
export class Interrupted extends Error {
  constructor(readonly signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }

  /** 128 + the signal's number, as shells report it. */
  get exitCode(): number {
    return this.signal === "SIGINT" ? 130 : 143;
  }
}

/** Abort `controller` on the first SIGINT/SIGTERM, exit on the second; returns a function that removes the handlers. */
export function abortOnSignals(controller: AbortController, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = (): void => {
      if (controller.signal.aborted) exit(new Interrupted(signal).exitCode);
      else controller.abort(new Interrupted(signal));
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => handlers.forEach((remove) => remove());
}

/** What is safe after each command is interrupted. */
const AFTER: Record<string, string> = {
  copy: "nothing was tagged, temporary files were removed and open uploads cancelled; run it again to finish (what arrived is kept and skipped)",
  tag: "the new tag is written last, so it was not, or it was written whole; run it again",
  "blob get": "no partial file was left; run it again",
  "blob put": "the upload session was cancelled; run it again",
  "blob mount": "run it again: a mount either happened or did not",
  delete: "the registry may or may not have deleted it: check with quayside digest, then run it again",
  untag: "the tag may or may not be gone: check with quayside tags, then run it again",
  "blob delete": "the registry may or may not have deleted it: run it again",
  login: "nothing was saved",
  logout: "the config file is written whole or not at all",
  "quay delete-tag": "the tag may or may not be gone: check with quayside quay tags, then run it again",
  "quay set-tag": "the tag was moved or it was not: run it again",
  "quay delete-repo": "the repository may or may not be gone: run it again (one already gone is not an error)",
  "alias set": "the alias's manifest is written whole or not at all: check with quayside alias get, then run it again",
  "alias delete": "the alias may or may not be gone: check with quayside alias list, then run it again",
  "index merge": "the destination's tag is moved last, so it still names the old list, or the whole merge; children already copied stay; run it again",
};

export function interruptedMessage(command: string, reason: Interrupted): string {
  return `interrupted by ${reason.signal}: ${command} stopped; ${AFTER[command] ?? "nothing was changed"}`;
}
