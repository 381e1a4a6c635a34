import { writeFile } from "node:fs/promises";
import { run } from "./exec.js";

export interface User {
  username: string;
  password: string;
}

/**
 * Writes an htpasswd file. docker-registry accepts only bcrypt entries and node has no
 * bcrypt, so this uses `htpasswd -B` from the Debian package apache2-utils.
 * Cost 5 (the minimum Go accepts is 4) keeps each basic-auth check on the registry fast.
 */
export async function writeHtpasswd(file: string, users: readonly User[]): Promise<void> {
  const lines: string[] = [];
  for (const user of users) {
    const { stdout } = await run("htpasswd", ["-n", "-b", "-B", "-C", "5", user.username, user.password], {
      timeoutMs: 10_000,
    }).catch((error: unknown) => {
      throw new Error("htpasswd failed: install the Debian package apache2-utils", { cause: error });
    });
    lines.push(stdout.trim());
  }
  await writeFile(file, lines.join("\n") + "\n", { mode: 0o600 });
}
