/**
 * The library and the command modules, as the CLI loads them: when a command runs, not when the
 * CLI starts. `--help`, usage errors and the parsing of every command never load the library
 * (its HTTP stack, TLS, the stores...): in the bundle (scripts/bundle-cli.mjs) esbuild keeps a
 * module that is only imported dynamically uninitialized until then.
 */
export type Library = typeof import("../index.js");

let loading: Promise<Library> | undefined;
let loaded: Library | undefined;

/** The library, loaded on the first call. */
export function loadLibrary(): Promise<Library> {
  loading ??= import("../index.js").then((library) => (loaded = library));
  return loading;
}

/**
 * The library if it was loaded. Every way the CLI reaches library code goes through
 * loadLibrary() (onDemand() modules too), so when this is undefined no QuaysideError exists.
 */
export function loadedLibrary(): Library | undefined {
  return loaded;
}

/** A module's async functions, callable before the module is loaded. */
export type OnDemand<M> = { readonly [K in keyof M]: M[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R> : never };

/**
 * A module whose functions can be called at once and load it (after the library) on the first
 * call: `commands.ping(ctx, host)` loads the commands module, then runs its ping().
 */
export function onDemand<M extends object>(load: () => Promise<M>): OnDemand<M> {
  let module: Promise<M> | undefined;
  return new Proxy({} as OnDemand<M>, {
    get:
      (_target, name) =>
      async (...args: unknown[]): Promise<unknown> => {
        module ??= loadLibrary().then(load);
        const fn = (await module)[name as keyof M];
        if (typeof fn !== "function") throw new TypeError(`${String(name)} is not a function of the module`);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
  });
}
