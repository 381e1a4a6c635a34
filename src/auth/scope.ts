/** Token scopes: "repository:NAME:pull,push", "registry:catalog:*". */

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const actions = text.slice(last + 1).split(",").filter((a) => a !== "");
  return { type: text.slice(0, first), name: text.slice(first + 1, last), actions };
}

/** A challenge's scope parameter may hold several scopes separated by spaces. */
export function parseScopes(param: string | undefined): Scope[] {
  if (param === undefined) return [];
  return param.split(/\s+/).flatMap((part) => parseScope(part) ?? []);
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

export function repositoryScope(name: string, ...actions: string[]): Scope {
  return { type: "repository", name, actions };
}

/** Union of scopes: one entry per resource, actions merged and sorted, resources sorted, so equal sets format equally. */
export function mergeScopes(...lists: readonly (readonly Scope[])[]): Scope[] {
  const byResource = new Map<string, Scope>();
  for (const scope of lists.flat()) {
    const key = `${scope.type}:${scope.name}`;
    const existing = byResource.get(key);
    const actions = new Set([...(existing?.actions ?? []), ...scope.actions]);
    byResource.set(key, { type: scope.type, name: scope.name, actions: [...actions].sort() });
  }
  return [...byResource.values()].sort((a, b) => `${a.type}:${a.name}`.localeCompare(`${b.type}:${b.name}`));
}

export function scopeKey(scopes: readonly Scope[]): string {
  return mergeScopes(scopes).map(formatScope).join(" ");
}
