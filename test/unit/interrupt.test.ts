/** Ctrl-C / SIGTERM: the first aborts the command with a reason that names the signal, the second exits. */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { abortOnSignals, Interrupted, interruptedMessage } from "../../src/cli/interrupt.js";

describe("interrupts", () => {
  it("the first signal aborts with an Interrupted reason; a second one exits with 128 + its number", () => {
    const controller = new AbortController();
    const exits: number[] = [];
    const remove = abortOnSignals(controller, (code) => exits.push(code));
    try {
      process.emit("SIGTERM", "SIGTERM");
      assert.ok(controller.signal.aborted);
      const reason: unknown = controller.signal.reason;
      assert.ok(reason instanceof Interrupted);
      assert.equal(reason.signal, "SIGTERM");
      assert.equal(reason.exitCode, 143);
      assert.deepEqual(exits, []);
      process.emit("SIGINT", "SIGINT");
      assert.deepEqual(exits, [130]);
    } finally {
      remove();
    }
    assert.equal(process.listenerCount("SIGINT"), 0);
  });

  it("says what was interrupted and what is safe", () => {
    assert.equal(
      interruptedMessage("copy", new Interrupted("SIGINT")),
      "interrupted by SIGINT: copy stopped; nothing was tagged, temporary files were removed and open uploads cancelled; run it again to finish (what arrived is kept and skipped)",
    );
    assert.match(interruptedMessage("inspect", new Interrupted("SIGTERM")), /^interrupted by SIGTERM: inspect stopped; nothing was changed$/);
    // Commands that change a registry never claim that nothing was changed.
    for (const command of ["alias set", "alias delete", "index merge", "delete", "untag", "tag", "blob put", "quay set-tag"]) {
      assert.doesNotMatch(interruptedMessage(command, new Interrupted("SIGINT")), /nothing was changed/, command);
    }
    assert.match(interruptedMessage("index merge", new Interrupted("SIGINT")), /tag is moved last/);
  });
});
