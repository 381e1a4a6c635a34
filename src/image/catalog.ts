/**
 * A registry's catalog as dreg-client groups it: by namespace (the part before the first "/"; a
 * name without one falls in "library", as on Docker Hub), filterable by regular expressions.
 * Pure: names in, names out.
 */
import { UsageError } from "../errors.js";

/** The namespace a repository name falls in when it has no "/". */
export const DEFAULT_NAMESPACE = "library";

export interface RepositoryName {
  /** The catalog's name, as it is: "team/app", "app", "org/team/app". */
  name: string;
  /** "team" ("library" for a name without "/"). */
  namespace: string;
  /** The rest after the namespace: "app", "team/app". */
  repository: string;
}

/** "team/app" -> team + app; "org/a/b" -> org + a/b; "app" -> library + app. */
export function splitRepositoryName(name: string): RepositoryName {
  const slash = name.indexOf("/");
  return slash < 0 ? { name, namespace: DEFAULT_NAMESPACE, repository: name } : { name, namespace: name.slice(0, slash), repository: name.slice(slash + 1) };
}

/**
 * Which catalog entries to keep: `namespace` tested against the namespace, `repository` against
 * the name after it ("app" of "team/app"). A pattern given as text matches from the start of the
 * name, as dreg-client's filters do (Python's re.match: "nova" keeps "nova-api", not
 * "openstack-nova"); a RegExp is used as it is (anchor it yourself, or not).
 */
export interface CatalogFilter {
  namespace?: RegExp | string | undefined;
  repository?: RegExp | string | undefined;
}

function pattern(value: RegExp | string | undefined, what: string): RegExp | undefined {
  if (value === undefined || value instanceof RegExp) return value;
  try {
    return new RegExp(`^(?:${value})`);
  } catch (err) {
    throw new UsageError(`invalid ${what} pattern ${JSON.stringify(value)}: ${(err as Error).message}`);
  }
}

/** Does this regular expression match? A global or sticky one is tested from the start each time. */
function matches(re: RegExp, text: string): boolean {
  re.lastIndex = 0;
  return re.test(text);
}

/** The catalog's names that pass the filter, split, in catalog order. */
export function filterCatalog(names: readonly string[], filter: CatalogFilter = {}): RepositoryName[] {
  const namespace = pattern(filter.namespace, "namespace");
  const repository = pattern(filter.repository, "repository");
  return names
    .map(splitRepositoryName)
    .filter((n) => (namespace === undefined || matches(namespace, n.namespace)) && (repository === undefined || matches(repository, n.repository)));
}

/** The namespaces of the names that pass the filter, each once, in the order first seen. */
export function catalogNamespaces(names: readonly string[], filter: CatalogFilter = {}): string[] {
  return [...new Set(filterCatalog(names, filter).map((n) => n.namespace))];
}
