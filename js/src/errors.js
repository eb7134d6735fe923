// Error classes with the meanings of the Python exceptions, and the conversion from the raw
// errors the wasm module throws (a JS Error whose `name` is the class name).

/** Base of failures of the store itself: corrupt files, lock conflicts, I/O, internal traps (Python `numpack.NumPackError`). */
export class NumPackError extends Error {
  constructor(message, options) { super(message, options); this.name = 'NumPackError'; }
}
/** A store file is truncated, corrupt or of an unknown version. */
export class CorruptStoreError extends NumPackError {
  constructor(message, options) { super(message, options); this.name = 'CorruptStoreError'; }
}
/** Another writer holds the store. */
export class StoreLockedError extends NumPackError {
  constructor(message, options) { super(message, options); this.name = 'StoreLockedError'; }
}
/** The storage failed (file system, OPFS). */
export class StoreIOError extends NumPackError {
  constructor(message, options) { super(message, options); this.name = 'StoreIOError'; }
}
/** A size derived from a call or a file is too large to allocate (Python `MemoryError`); nothing was changed. */
export class OutOfMemoryError extends NumPackError {
  constructor(message, options) { super(message, options); this.name = 'OutOfMemoryError'; }
}
/** The wasm module trapped (a bug); the handle that trapped is closed. */
export class InternalError extends NumPackError {
  constructor(message, options) { super(message, options); this.name = 'InternalError'; }
}
/** No array of that name (Python `KeyError`). */
export class NotFoundError extends Error {
  constructor(message, options) { super(message, options); this.name = 'NotFoundError'; }
}
/** A row index is out of range (Python `IndexError`); also a `RangeError`. */
export class IndexError extends RangeError {
  constructor(message, options) { super(message, options); this.name = 'IndexError'; }
}
/** A bad argument, shape or name (Python `ValueError`). */
export class ValueError extends Error {
  constructor(message, options) { super(message, options); this.name = 'ValueError'; }
}
/** An unsupported or mismatched dtype (Python `TypeError`); also a `TypeError`. */
export class DTypeError extends TypeError {
  constructor(message, options) { super(message, options); this.name = 'DTypeError'; }
}

const CLASSES = {
  NotFoundError, IndexError, ValueError, DTypeError, CorruptStoreError, StoreLockedError, StoreIOError,
  NumPackError, InternalError, OutOfMemoryError,
};

/** Rebuilds an error by class name (used for errors crossing a worker boundary). */
export function errorFromName(name, message) {
  const C = CLASSES[name];
  return C ? new C(message) : new NumPackError(message);
}

/** Converts whatever the wasm module threw into one of the classes above. */
export function convertError(err, bindings) {
  if (err instanceof NumPackError || err instanceof NotFoundError || err instanceof IndexError
    || err instanceof ValueError || err instanceof DTypeError) return err;
  if (err instanceof WebAssembly.RuntimeError) {
    const msg = bindings?.takePanicMessage?.() ?? err.message;
    return new InternalError(`numpack wasm trapped: ${msg}`, { cause: err });
  }
  if (err && typeof err === 'object' && typeof err.name === 'string' && CLASSES[err.name]) {
    return new CLASSES[err.name](err.message, { cause: err });
  }
  if (err instanceof Error && /recursive use of an object|null pointer passed to rust/.test(err.message)) {
    return new InternalError(`store handle is unusable after an earlier failure: ${err.message}`, { cause: err });
  }
  return err;
}
