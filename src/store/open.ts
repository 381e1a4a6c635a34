/**
 * Where an image is, from the text a user types: a registry reference ("host/repo:tag",
 * optionally prefixed "docker://"), "oci:PATH[:TAG]" or "docker-archive:PATH[:REF]".
 */
import { isDigest } from "../digest/digest.js";
import { InvalidReferenceError } from "../errors.js";
import { parseReference } from "../ref/reference.js";
import type { RegistryClient } from "../registry/client.js";
import { DockerArchiveStore, parseArchiveLocation } from "./docker-archive.js";
import { OciLayoutStore, parseOciLocation } from "./oci-layout.js";
import { RegistryStore } from "./registry-store.js";
import type { Store } from "./store.js";

export interface OpenedLocation {
  store: Store;
  /** What names the image in the store: a tag or digest. Undefined: the store's only image (archives). */
  name: string | undefined;
  /** The tag to write at a destination (undefined when only a digest was given). */
  tag: string | undefined;
}

export type Role = "source" | "destination";

export interface OpenLocationOptions {
  /** A client for a registry host (one per host, shared by the caller). */
  registryClient: (registry: string) => Promise<RegistryClient>;
}

export async function openLocation(text: string, role: Role, options: OpenLocationOptions): Promise<OpenedLocation> {
  // "oci:5000/repo" would be a registry called "oci" on port 5000: only a scheme not followed by a port counts.
  const scheme = /^(oci|docker-archive):(?!\d+\/)/.exec(text)?.[1];
  if (scheme !== undefined) return openFileLocation(scheme, text, role);
  const reference = parseReference(text.startsWith("docker://") ? text.slice("docker://".length) : text);
  const client = await options.registryClient(reference.registry);
  return { store: new RegistryStore(client, reference.repository), name: reference.digest ?? reference.tag, tag: reference.tag };
}

async function openFileLocation(scheme: string, text: string, role: Role): Promise<OpenedLocation> {
  if (scheme === "oci") {
    const { path, reference } = parseOciLocation(text);
    const store = await OciLayoutStore.open(path, { create: role === "destination" });
    const tag = reference !== undefined && !isDigest(reference) ? reference : undefined;
    return { store, name: reference, tag };
  }
  const { path, reference } = parseArchiveLocation(text);
  if (role === "source") return { store: await DockerArchiveStore.open(path), name: reference ?? "", tag: undefined };
  if (reference?.startsWith("@")) throw new InvalidReferenceError(text, "reference", "@N picks an image to read; a destination takes repo:tag");
  return { store: await DockerArchiveStore.create(path), name: reference, tag: reference };
}
