// Types of the `numpack` npm package (Node: `numpack`; browsers and bundlers: `numpack`,
// `numpack/worker`, `numpack/opfs`).

/** The 14 element types, with NumPy's names. */
export type DType =
  | 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int8' | 'int16' | 'int32' | 'int64'
  | 'float16' | 'float32' | 'float64' | 'complex64' | 'complex128';

/** The typed array holding each dtype: bool → Uint8Array (0/1); float16 → Float16Array where the
 * runtime has it, else Uint16Array of the raw bits; complex → interleaved (re, im) floats. */
export type TypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int8Array | Int16Array | Int32Array
  | BigInt64Array | Float32Array | Float64Array;

/** An array: flat C-order data, its shape (number of elements, not floats, for complex) and dtype. */
export interface NDArray<T extends TypedArray = TypedArray> {
  data: T;
  shape: number[];
  dtype: DType;
}

/** What the writing calls accept: a typed array (1-D, dtype inferred), a plain array, or an object. */
export type ArrayInput =
  | TypedArray
  | number[] | bigint[] | boolean[]
  | { data: TypedArray | number[] | bigint[] | boolean[]; shape?: number[]; dtype?: DType };

/** Rows to address: an int (keeps the leading axis), indices (negative count from the end),
 * booleans (a mask of exactly one flag per row), or a Python-style slice. An index out of
 * range (including any no int64 holds, such as 2^64) or a mask of the wrong length is an
 * `IndexError`; a non-integer index or slice bound is a `ValueError`. */
export type Selection =
  | number | bigint | number[] | bigint[] | boolean[] | Int32Array | BigInt64Array
  | { start?: number | null; stop?: number | null; step?: number | null };

/** What a store knows about one array. */
export interface ArrayInfo {
  name: string;
  dtype: DType;
  /** Logical shape (dropped rows not counted). */
  shape: number[];
  /** Shape as stored (dropped rows counted). */
  physicalShape: number[];
  dataFile: string;
  /** Microseconds since the Unix epoch. */
  lastModified: number;
}

/** Synchronous file callbacks a store can run over (Node's fs, OPFS, or your own). */
export interface IoBackend {
  /** Fills all of `into` (a view of wasm memory, or for large reads the caller's result array
   * or a subarray of it) or throws (`code: 'EOF'` when the file is too short). */
  readAt(path: string, offset: number, into: Uint8Array): void;
  writeAt(path: string, offset: number, data: Uint8Array): void;
  len(path: string): number | null;
  setLen(path: string, len: number): void;
  sync(path: string): void;
  rename(from: string, to: string): void;
  /** Removes the file. A missing file is not an error: return normally, or throw an error
   * with `code: 'ENOENT'` (both mean "nothing left to remove"). */
  remove(path: string): void;
  createDir(dir: string): void;
  /** Removes the empty folder; a missing one: return, or throw with `code: 'ENOENT'`. */
  removeDir(dir: string): void;
  list(dir: string): string[];
  stamp(path: string): number | bigint | null;
  now(): number;
  lock(mode: 'shared' | 'exclusive'): void;
  unlock(): void;
}

export interface OpenOptions {
  /** Sync files before each call returns (survives power loss). */
  durable?: boolean;
  /** Clock in µs since the epoch (tests, byte-identical files). */
  clock?: () => number;
}

/** Options of the reading calls. */
export interface ReadOptions {
  /** Read into this typed array instead of a new one and return it as `data`: it must hold the
   * array's dtype (as `load` would return it) and exactly the result's element count. Reusing
   * one array skips allocating (and page-faulting in) fresh memory on every read. */
  out?: TypedArray;
}

/** A NumPack store. Every mutation is committed before it returns. */
export declare class Store {
  /** A new, empty in-memory store. */
  static memory(): Store;
  /** An in-memory store from a `.npkg` package, raw or zstd-compressed (e.g. `fetch()`ed). */
  static fromPackage(bytes: ArrayBuffer | Uint8Array): Store;
  /** An in-memory store from `{ relativePath: bytes }`. */
  static fromFiles(files: Record<string, Uint8Array | ArrayBuffer>): Store;
  /** A store over any `IoBackend`. */
  static fromBackend(backend: IoBackend, options?: OpenOptions): Store;
  /** Node only: opens (creating) the store folder at `path`. */
  static open?: (path: string, options?: OpenOptions) => Store;

  list(): string[];
  has(name: string): boolean;
  info(name: string): ArrayInfo;
  infos(): ArrayInfo[];
  shape(name: string): number[];
  dtype(name: string): DType;
  modifyTime(name: string): number;
  save(arrays: Record<string, ArrayInput> | Map<string, ArrayInput>): void;
  load(name: string, options?: ReadOptions): NDArray;
  getitem(name: string, index: Selection, options?: ReadOptions): NDArray;
  append(name: string, value: ArrayInput): void;
  replace(name: string, index: Selection, value: ArrayInput): void;
  /** Drops whole arrays (no index) or rows of one array. */
  drop(name: string | string[], index?: Selection): void;
  compact(name: string): void;
  clone(src: string, dst: string): void;
  reset(): void;
  refresh(): void;
  streamLoad(name: string, batchRows?: number): Generator<NDArray>;
  /** The store as a `.npkg` package (any store); `compression: true` zstd-compresses files that shrink. */
  toPackage(options?: { compression?: boolean }): Uint8Array;
  files(): Record<string, Uint8Array>;
  close(): void;
  readonly closed: boolean;
}

/** Metric names (aliases such as `cos`, `euclidean`, `inner_product` are accepted too). */
export type Metric = 'dot' | 'cosine' | 'l2' | 'l2sq' | 'hamming' | 'jaccard' | 'kl' | 'js' | (string & {});
/** Vectors: 1-D (one vector) or `{ data, shape: [rows, dim] }`, of any numeric dtype or
 * `'bfloat16'` (given as a `Uint16Array` of bits). Plain `number[]` are float64. A bare
 * `Uint16Array` (what a store returns for float16 where there is no `Float16Array`) searched
 * against float16 or bfloat16 candidates is their bits. Query and candidates of different
 * types meet by the core's one rule (docs/METRICS.md, "Mixed dtypes"), as in Python. */
export type Vectors = ArrayInput | { data: Uint16Array; shape?: number[]; dtype: 'bfloat16' } | VectorMatrix;

export interface TopKResult {
  /** Row indices, best first (ties by lower index). */
  indices: Uint32Array;
  scores: Float64Array;
  /** `[queries, k]` for multi-query results (row-major). */
  shape?: [number, number];
}

/** Vectors uploaded once into wasm memory; reuse across searches, then `free()`. */
export declare class VectorMatrix {
  /** `halfDtype`: what a bare `Uint16Array` stands for (`'float16'` or `'bfloat16'` bits). */
  constructor(value: Vectors, halfDtype?: DType | 'bfloat16');
  readonly rows: number;
  readonly dim: number;
  /** The element type the engine computes these vectors in. */
  readonly dtype: DType | 'bfloat16';
  free(): void;
}

/** Similarity search on the core engine (simd128 kernels where compiled in). */
/** Options of the top-k searches. */
export interface SearchOptions {
  /**
   * Threads to split the candidate rows over (default: every core — `os.availableParallelism()`
   * in Node, `navigator.hardwareConcurrency` in a browser — for searches of at least 2^20
   * elements, else one). Results are identical to one thread, bit for bit. The calling thread
   * searches one share of the rows itself and `threads − 1` pool threads the others; the pool
   * (one per wasm build) is started on first use and reused; a `VectorMatrix`'s other shares
   * are copied to the pool threads once. `topKStored` on threads (Node, stores opened with `open(path)`): each thread opens the
   * folder and reads its own range of logical rows. Node: `worker_threads` (unref'd). Browser:
   * Web Workers, only inside a cross-origin isolated worker after `startThreads()`; elsewhere
   * (a page's main thread, no SharedArrayBuffer, stores in memory or OPFS for `topKStored`)
   * searches run on one thread.
   */
  threads?: number;
  /**
   * Only these candidate rows may be returned: logical row indices (any order; duplicates count
   * once; out of range is an `IndexError`) as an array of numbers / bigints or an integer typed
   * array, or a boolean mask with one entry per row (an array of booleans, or a `Uint8Array`
   * where non-zero allows the row; a wrong length is a `ValueError`). Results are exact over the
   * allowed rows, with their logical indices; no allowed row gives empty results.
   */
  filter?: ArrayLike<number | bigint> | boolean[] | Uint8Array;
}

export declare class VectorSearch {
  capabilities(): string;
  /** Search threads this wasm build has started so far (0 where none can be used). */
  threadsStarted(): number;
  computeMetric(a: Vectors, b: Vectors, metric: Metric): number;
  batchCompute(query: Vectors, candidates: Vectors, metric: Metric): Float64Array | NDArray<Float64Array>;
  topK(query: Vectors, candidates: Vectors, metric: Metric, k: number, options?: SearchOptions): TopKResult;
  multiQueryTopK(queries: Vectors, candidates: Vectors, metric: Metric, k: number, options?: SearchOptions): TopKResult & { shape: [number, number] };
  /** Top-k streamed over a stored 2-D array, `batchRows` rows at a time (default 10000). */
  topKStored(store: Store, name: string, query: Vectors, metric: Metric, k: number, options?: SearchOptions & { batchRows?: number }): TopKResult;
}
export declare const VectorEngine: typeof VectorSearch;

/** A store in a dedicated worker (`numpack/worker`): the same calls, as Promises. */
export declare class WorkerStore {
  /** `{ opfs: 'folder' }` (persistent), `{ package: bytes }`, or `{}` (memory). */
  static open(options?: { opfs?: string; package?: ArrayBuffer | Uint8Array; workerUrl?: string | URL } & OpenOptions): Promise<WorkerStore>;
  list(): Promise<string[]>;
  has(name: string): Promise<boolean>;
  info(name: string): Promise<ArrayInfo>;
  infos(): Promise<ArrayInfo[]>;
  shape(name: string): Promise<number[]>;
  dtype(name: string): Promise<DType>;
  save(arrays: Record<string, ArrayInput>): Promise<void>;
  load(name: string): Promise<NDArray>;
  getitem(name: string, index: Selection): Promise<NDArray>;
  append(name: string, value: ArrayInput): Promise<void>;
  replace(name: string, index: Selection, value: ArrayInput): Promise<void>;
  drop(name: string | string[], index?: Selection): Promise<void>;
  compact(name: string): Promise<void>;
  clone(src: string, dst: string): Promise<void>;
  reset(): Promise<void>;
  toPackage(options?: { compression?: boolean }): Promise<Uint8Array>;
  capabilities(): Promise<string>;
  /** Starts `n` search threads inside the worker (default: every core); resolves to their number. */
  startThreads(n?: number): Promise<number>;
  computeMetric(a: ArrayInput, b: ArrayInput, metric: Metric): Promise<number>;
  batchCompute(q: ArrayInput, c: ArrayInput, metric: Metric): Promise<Float64Array | NDArray<Float64Array>>;
  topK(q: ArrayInput, c: ArrayInput, metric: Metric, k: number, options?: SearchOptions): Promise<TopKResult>;
  multiQueryTopK(q: ArrayInput, c: ArrayInput, metric: Metric, k: number, options?: SearchOptions): Promise<TopKResult>;
  topKStored(name: string, q: ArrayInput, metric: Metric, k: number, options?: SearchOptions & { batchRows?: number }): Promise<TopKResult>;
  close(): Promise<void>;
}

/** OPFS back end for a dedicated worker: reads go through synchronous access handles (nothing is
 * loaded at open); changes go straight through, or are logged and replayed in order by `flush()`. */
export declare class OpfsBackend implements IoBackend {
  static open(folder: string, options?: OpenOptions): Promise<OpfsBackend>;
  readAt(path: string, offset: number, into: Uint8Array): void;
  writeAt(path: string, offset: number, data: Uint8Array): void;
  len(path: string): number | null;
  setLen(path: string, len: number): void;
  sync(path: string): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
  createDir(dir: string): void;
  removeDir(dir: string): void;
  list(dir: string): string[];
  stamp(path: string): number | bigint | null;
  now(): number;
  lock(mode: 'shared' | 'exclusive'): void;
  unlock(): void;
  readonly pending: number;
  /** Bytes read from OPFS since open, bytes of logged writes awaiting `flush()`, open files. */
  readonly stats: { bytesRead: number; pendingBytes: number; files: number };
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Node only: a store folder on disk through `node:fs`. */
export declare class NodeFsBackend implements IoBackend {
  constructor(root: string, options?: OpenOptions);
  readAt(path: string, offset: number, into: Uint8Array): void;
  writeAt(path: string, offset: number, data: Uint8Array): void;
  len(path: string): number | null;
  setLen(path: string, len: number): void;
  sync(path: string): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
  createDir(dir: string): void;
  removeDir(dir: string): void;
  list(dir: string): string[];
  stamp(path: string): bigint | null;
  now(): number;
  lock(mode: 'shared' | 'exclusive'): void;
  unlock(): void;
}

/** Node only: opens (creating) the store folder at `path`. A path that is not a non-empty
 * string is a `ValueError`; one that is a file, or cannot be created, a `StoreIOError`. */
export declare function open(path: string, options?: OpenOptions): Store;
/** One problem `numpack verify` found: its class (`journal`, `data`, `bitmap`, `segments`,
 * `orphan`, `temp`), the file concerned (relative to the store folder) and what is wrong. */
export type VerifyProblem = [fault: string, path: string, message: string];
/** Node only (`npx numpack verify`): every problem in the existing store folder `path`, read-only
 * under its shared lock (empty: clean). Throws `CorruptStoreError` when the catalogue cannot be
 * read. */
export declare function storeVerify(path: string): VerifyProblem[];
/** Node only (`npx numpack verify --data`): `[name, dtype, shape, sha256]` of every array of the
 * store folder `path` (SHA-256 of its logical bytes, C order), opened read-only. */
export declare function storeChecksums(path: string): [name: string, dtype: DType, shape: number[], sha256: string][];
/** What `numpack info` reports of one array (times in µs since the Unix epoch). */
export interface ArrayFacts {
  name: string;
  dtype: DType;
  shape: number[];
  physicalShape: number[];
  liveRows: number;
  droppedRows: number;
  /** The array's files (data file or manifest, bitmap, segment files) with their bytes. */
  files: [path: string, bytes: number][];
  bytesOnDisk: number;
  /** Dropped rows' bytes plus any uncommitted tail of the data file. */
  reclaimableBytes: number;
  lastModified: number;
}
/** What `numpack info` reports of a store. */
export interface StoreFacts {
  arrays: ArrayFacts[];
  /** Every file of the store folder, recursively. */
  bytesOnDisk: number;
  reclaimableBytes: number;
  /** The latest change of any array (µs), `null` for an empty store. */
  lastModified: number | null;
}
/** Node only (`npx numpack info`): the facts of the existing store folder `path` (every array,
 * or only `name`: `NotFoundError` if absent), read-only. */
export declare function storeFacts(path: string, name?: string): StoreFacts;
/** Node only: {@link storeFacts} of a `.npkg` package's bytes (sizes of the unpacked files). */
export declare function packageFacts(bytes: Uint8Array, name?: string): StoreFacts;

/** Store failures (Python `numpack.NumPackError`): corrupt files, locks, I/O, internal traps. */
export declare class NumPackError extends Error {}
export declare class CorruptStoreError extends NumPackError {}
export declare class StoreLockedError extends NumPackError {}
export declare class StoreIOError extends NumPackError {}
/** The wasm module trapped (a bug); the handle is closed. */
export declare class InternalError extends NumPackError {}
/** A size derived from a call or a file is too large to allocate (Python `MemoryError`); nothing was changed. */
export declare class OutOfMemoryError extends NumPackError {}
/** No such array (Python `KeyError`). */
export declare class NotFoundError extends Error {}
/** Row index out of range (Python `IndexError`). */
export declare class IndexError extends RangeError {}
/** Bad argument, shape or name (Python `ValueError`). */
export declare class ValueError extends Error {}
/** Unsupported or mismatched dtype (Python `TypeError`). */
export declare class DTypeError extends TypeError {}

export declare const DTYPE_NAMES: readonly DType[];
export declare const HAS_FLOAT16ARRAY: boolean;
export declare const METRICS: readonly string[];
export declare function toHalfBits(value: number): number;
export declare function fromHalfBits(bits: number): number;
export declare function kernelTier(): 'simd128' | 'scalar';
/**
 * Starts `n` search threads (default: every core) and resolves to the number started once they
 * have loaded the wasm module. Needed in a browser worker before threaded searches (a nested
 * worker may not load while its parent blocks); optional in Node. A search on `t` threads uses
 * the calling thread and `t − 1` of these.
 */
export declare function startThreads(n?: number): Promise<number>;
export declare function version(): string;
/** The API over a specific build (`{ kernels: 'scalar' }` for the non-SIMD one). */
export declare function createNumPack(options?: { kernels?: 'simd128' | 'scalar'; wasmUrl?: string | URL }): any;
/** Browser only: whether the engine runs WebAssembly SIMD. */
export declare const simdSupported: boolean;
declare const api: { Store: typeof Store; VectorSearch: typeof VectorSearch };
export default api;
