/** How much quayside reads into memory at most, in one place so every reader agrees. */

/** A manifest (or index): what the distribution registry accepts too. */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;

/** A small JSON document read only for a message, such as a registry's error body. */
export const SMALL_JSON_LIMIT = 64 * 1024;

/** Any other JSON document read whole (a token response, say) when its reader sets no other limit. */
export const JSON_DOCUMENT_LIMIT = 4 * 1024 * 1024;

/**
 * One page of a catalog or tag listing: 1,000,000 tags of 20 characters (about 22 MB) fit; a
 * hostile endless page is cut off here instead of filling memory.
 */
export const LISTING_PAGE_LIMIT = 32 * 1024 * 1024;

/** A whole blob read into memory (configs and the like); bigger blobs are streamed. */
export const BLOB_BYTES_LIMIT = 16 * 1024 * 1024;

/** Pages followed in one listing before we call the registry's pagination broken. */
export const MAX_PAGES = 100_000;
