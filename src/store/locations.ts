/**
 * Where an image is, from the text a user types: one table of location schemes, each with its
 * prefix, its parser and how to open it as a Store. A registry reference ("host/repo:tag",
 * optionally "docker://host/repo:tag") is the scheme used when no other prefix matches.
 */
import { isDigest } from "../digest/digest.js";
import { InvalidReferenceError } from "../errors.js";
import { parseReference, type Reference } from "../ref/reference.js";
import type { RegistryClient } from "../registry/client.js";
import { DockerArchiveStore, parseArchiveLocation } from "./docker-archive.js";
import { OciLayoutStore, parseOciLocation } from "./oci-layout.js";
import { RegistryStore } from "./registry-store.js";
import type { Store } from "./store.js";

export type Location =
  | { scheme: "docker"; text: string; reference: Reference }
  | { scheme: "oci"; text: string; path: string; reference: string | undefined }
  | { scheme: "docker-archive"; text: string; path: string; reference: string | undefined };

export type LocationSchemeName = Location["scheme"];

export type Role = "source" | "destination";

export interface OpenedLocation {
  store: Store;
  location: Location;
  /** What names the image in the store: a tag or digest. Undefined: the store's only image (archives) or none given. */
  name: string | undefined;
  /** The tag to write at a destination (undefined when only a digest was given). */
  tag: string | undefined;
  /** How results name this place: a registry reference normalized ("docker.io/library/x:1"), else the text as given. */
  display: string;
}

export interface OpenLocationOptions {
  /** The client for a registry host (the caller shares one per host). */
  registryClient: (registry: string) => RegistryClient | Promise<RegistryClient>;
}

interface LocationScheme<S extends LocationSchemeName> {
  readonly scheme: S;
  /** The text's prefix; the registry scheme also takes text without one. */
  readonly prefix: string;
  parse(text: string): Extract<Location, { scheme: S }>;
  open(location: Extract<Location, { scheme: S }>, role: Role, options: OpenLocationOptions): Promise<OpenedLocation>;
}

const oci: LocationScheme<"oci"> = {
  scheme: "oci",
  prefix: "oci:",
  parse(text) {
    const { path, reference } = parseOciLocation(text);
    return { scheme: "oci", text, path, reference };
  },
  async open(location, role) {
    const store = await OciLayoutStore.open(location.path, { create: role === "destination" });
    const { reference } = location;
    return { store, location, name: reference, tag: reference !== undefined && !isDigest(reference) ? reference : undefined, display: location.text };
  },
};

const dockerArchive: LocationScheme<"docker-archive"> = {
  scheme: "docker-archive",
  prefix: "docker-archive:",
  parse(text) {
    const { path, reference } = parseArchiveLocation(text);
    return { scheme: "docker-archive", text, path, reference };
  },
  async open(location, role) {
    const { path, reference } = location;
    if (role === "source") return { store: await DockerArchiveStore.open(path), location, name: reference ?? "", tag: undefined, display: location.text };
    if (reference?.startsWith("@")) throw new InvalidReferenceError(location.text, "reference", "@N picks an image to read; a destination takes repo:tag");
    return { store: await DockerArchiveStore.create(path), location, name: reference, tag: reference, display: location.text };
  },
};

const docker: LocationScheme<"docker"> = {
  scheme: "docker",
  prefix: "docker://",
  parse: (text) => ({ scheme: "docker", text, reference: parseReference(text.startsWith("docker://") ? text.slice("docker://".length) : text) }),
  async open(location, _role, options) {
    const { reference } = location;
    const client = await options.registryClient(reference.registry);
    return {
      store: new RegistryStore(client, reference.repository),
      location,
      name: reference.digest ?? reference.tag,
      tag: reference.tag,
      display: reference.toString(),
    };
  },
};

/** The schemes with a prefix of their own, tried in order; a text none of them claims is a registry reference. */
const PREFIXED = [oci, dockerArchive, docker] as const;

function schemeOf(text: string): (typeof PREFIXED)[number] {
  // "oci:5000/repo" would be a registry called "oci" on port 5000: a prefix followed by a port is no scheme.
  return PREFIXED.find((s) => text.startsWith(s.prefix) && !/^\d+\//.test(text.slice(s.prefix.length))) ?? docker;
}

/** Parse a location without opening anything: typed errors (InvalidReferenceError) for text that does not parse. */
export function parseLocation(text: string): Location {
  return schemeOf(text).parse(text);
}

/** Open the Store a location names, for reading (source) or writing (destination: a layout is created if missing). */
export async function openLocation(text: string | Location, role: Role, options: OpenLocationOptions): Promise<OpenedLocation> {
  const location = typeof text === "string" ? parseLocation(text) : text;
  switch (location.scheme) {
    case "docker":
      return docker.open(location, role, options);
    case "oci":
      return oci.open(location, role, options);
    case "docker-archive":
      return dockerArchive.open(location, role, options);
  }
}
