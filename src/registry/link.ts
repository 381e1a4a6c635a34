/** RFC 8288 Link header: the rel="next" target that registries use for pagination. */

export function nextLink(values: readonly string[]): string | undefined {
  for (const value of values) {
    // Links are comma separated, but URLs may hold commas: split only before a "<".
    for (const link of value.split(/,\s*(?=<)/)) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(link);
      if (!match) continue;
      const params = match[2] ?? "";
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
      const rels = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
      if (rels.includes("next")) return match[1];
    }
  }
  return undefined;
}
