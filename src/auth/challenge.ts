/**
 * WWW-Authenticate parsing (RFC 7235): several challenges in one header or across headers,
 * quoted values with commas and escapes, token68, any letter case in schemes and names.
 */
import { ProtocolError, quoted } from "../errors.js";

export interface Challenge {
  /** Lower-cased scheme: "bearer", "basic", ... */
  scheme: string;
  /** Parameter names lower-cased; values as sent (unquoted). */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(offset = 0): string {
    return this.text[this.pos + offset] ?? "";
  }

  skipSpaces(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  skipSeparators(): void {
    while (this.peek() === " " || this.peek() === "\t" || this.peek() === ",") this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    this.pos++; // opening quote
    let value = "";
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === "\\") this.pos++;
      value += this.peek();
      this.pos++;
    }
    if (this.done) throw new ProtocolError(`WWW-Authenticate: unterminated quoted string in ${quoted(this.text)}`);
    this.pos++; // closing quote
    return value;
  }

  /** True if the text at the cursor is `name =` (an auth-param), not the next challenge's scheme. */
  atParam(): boolean {
    let i = this.pos;
    while (i < this.text.length && TOKEN_CHAR.test(this.text[i] ?? "")) i++;
    if (i === this.pos) return false;
    while (this.text[i] === " " || this.text[i] === "\t") i++;
    return this.text[i] === "=" && this.text[i + 1] !== "=";
  }

  /** True if the text at the cursor is a whole token68 (RFC 7235: b64 chars then "="s), e.g. "YWJjZGU=" which atParam would take for `name=`. */
  atToken68(): boolean {
    return /^[A-Za-z0-9\-._~+/]+=*[ \t]*(?:,|$)/.test(this.text.slice(this.pos));
  }
}

export function parseChallenges(header: string | readonly string[]): Challenge[] {
  const values = typeof header === "string" ? [header] : header;
  return values.flatMap(parseOneHeader);
}

function parseOneHeader(text: string): Challenge[] {
  const scanner = new Scanner(text);
  const challenges: Challenge[] = [];
  scanner.skipSeparators();
  while (!scanner.done) {
    const scheme = scanner.token();
    if (scheme === "") throw new ProtocolError(`WWW-Authenticate: expected an auth scheme at offset ${scanner.pos} of ${quoted(text)}`);
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    scanner.skipSpaces();
    if (scanner.atToken68() || (!scanner.atParam() && scanner.peek() !== "," && !scanner.done)) {
      // token68 credentials-like blob (e.g. "Negotiate abc=="): keep it, it carries no params we use.
      const start = scanner.pos;
      while (!scanner.done && scanner.peek() !== ",") scanner.pos++;
      challenge.params["token68"] = text.slice(start, scanner.pos).trim();
    }
    for (;;) {
      scanner.skipSeparators();
      if (!scanner.atParam()) break;
      const name = scanner.token().toLowerCase();
      scanner.skipSpaces();
      scanner.pos++; // "="
      scanner.skipSpaces();
      challenge.params[name] = scanner.peek() === '"' ? scanner.quoted() : scanner.token();
    }
    scanner.skipSeparators();
  }
  return challenges;
}

/** The first challenge of a scheme we can answer, bearer preferred over basic. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}
