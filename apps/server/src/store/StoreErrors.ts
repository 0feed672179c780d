/**
 * The store cannot be trusted: LMDB refused to open it, an operation is unreadable, or the data
 * disagrees with its own digest or indexes. The server refuses to serve from it.
 */
export class StoreDamagedError extends Error {
  override name = 'StoreDamagedError';
}

/** The store belongs to another server id, or was written by an incompatible format version. */
export class StoreMismatchError extends Error {
  override name = 'StoreMismatchError';
}
