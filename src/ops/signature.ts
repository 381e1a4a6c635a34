/**
 * Schema 1 signature verification of a location, as python-dxf's and dockerreg's verify(): the
 * manifest the location names is read (exact bytes) and its JWS signatures checked.
 */
import { Repository } from "../image/image.js";
import { verifySchema1Signatures, type Schema1Verification } from "../media/schema1-signature.js";
import { withLocation, type OperationOptions } from "./pool.js";
import { imageName } from "./read.js";

/**
 * Verifies the signatures of the manifest at `location` (a registry reference, `oci:DIR[:TAG]`,
 * `docker-archive:FILE[:REF]`). Returns the verification when every signature verifies, null when
 * there is nothing to verify (an unsigned schema 1 manifest, or any schema 2 / OCI manifest, which
 * carry no JWS). Throws SignatureVerificationError, DisallowedSignatureAlgorithmError or
 * SignatureChainUnsupportedError, naming the manifest. One manifest request.
 */
export function verifyManifestSignatures(location: string, options: OperationOptions = {}): Promise<Schema1Verification | null> {
  return withLocation(options, location, async (opened) => {
    const manifest = await new Repository(opened.store).manifest(imageName(opened), options);
    if (manifest.kind !== "docker-v1") return null;
    return verifySchema1Signatures(manifest.bytes, { subject: `manifest ${opened.display}` });
  });
}
