/** Plain-text tables for the terminal and for bench/README.md. */

export type Align = "left" | "right";

export interface Column {
  header: string;
  align?: Align;
}

/** A fixed-width table with a header rule, columns padded to their widest cell. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const width = widths[i] ?? 0;
        return c.align === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The same table as GitHub Markdown. */
export function formatMarkdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const escape = (s: string): string => s.replace(/\|/g, "\\|");
  const head = `| ${columns.map((c) => escape(c.header)).join(" | ")} |`;
  const rule = `|${columns.map((c) => (c.align === "right" ? "---:" : ":---")).join("|")}|`;
  return [head, rule, ...rows.map((r) => `| ${columns.map((_, i) => escape(r[i] ?? "")).join(" | ")} |`)].join("\n");
}
