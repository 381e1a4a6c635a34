/**
 * A child process with input on stdin and a hard time limit. The test harness's run()
 * (test/harness/exec.ts) has no stdin, which the CLI's --password-stdin needs.
 */
import { spawn } from "node:child_process";
import { onProcessExit } from "../../test/harness/lifecycle.js";

export interface ExecOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kills the child (SIGKILL) when aborted. */
  signal?: AbortSignal;
  /**
   * Run the child in a process group of its own and kill the whole group (time limit, abort,
   * this process exiting or interrupted): for wrappers (`/usr/bin/time`, a shell script) whose
   * own children would otherwise outlive them.
   */
  group?: boolean;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const OUTPUT_LIMIT = 16 * 1024 * 1024;

export function exec(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: options.group === true,
    });
    const kill = (): void => {
      if (options.group !== true || child.pid === undefined) {
        child.kill("SIGKILL");
        return;
      }
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    };
    // A group of its own no longer gets the terminal's Ctrl-C: take it down when we go.
    const unregister = options.group === true ? onProcessExit(kill) : () => undefined;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > OUTPUT_LIMIT) kill();
      else into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    const onAbort = (): void => {
      kill();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      // Whatever the group leader left behind (a background job of a failed script) goes too.
      if (options.group === true) kill();
      unregister();
    };
    child.once("error", (error) => {
      done();
      reject(error);
    });
    child.once("close", (code, signal) => {
      done();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
    // A child that exits without reading its stdin must not crash us with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Throws with the child's stderr unless it exited 0 in time. */
export async function execOk(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const result = await exec(command, args, options);
  if (result.timedOut) throw new Error(`${command}: killed after ${options.timeoutMs} ms`);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").slice(-5).join("\n") || `exit ${result.code ?? result.signal}`;
    throw new Error(`${command} ${args[0] ?? ""} failed: ${detail}`);
  }
  return result;
}
