/** dockerreg's check_image: is every blob (and manifest) of an image present in a store? */
import type { Descriptor } from "../media/types.js";
import type { Store, StoreOptions } from "../store/store.js";
import { forEachLimit } from "../util/limit.js";
import { planGraph, type GraphOptions } from "./graph.js";

export interface CheckResult {
  root: Descriptor;
  manifests: number;
  blobs: number;
  /** Blobs the store does not have: empty means the image is complete. */
  missing: Descriptor[];
}

export async function checkImage(store: Store, reference: string, options: GraphOptions & { jobs?: number } = {}): Promise<CheckResult> {
  const root = await store.resolve(reference, options);
  // Reading every manifest already proves the manifests are there and intact.
  const plan = await planGraph(store, root, options);
  const missing: Descriptor[] = [];
  await forEachLimit(plan.blobs, options.jobs ?? 8, async (blob) => {
    if (!(await store.exists(blob, options satisfies StoreOptions))) missing.push(blob);
  });
  return { root: plan.root, manifests: plan.manifests.length, blobs: plan.blobs.length, missing };
}
