#!/usr/bin/env node
// `npx numpack VERB ...`: the command line of the npm package. The verbs are the Python CLI's
// where the npm package can do them (convert: .npy/.npz only); each verb's code is in
// cli-verbs.js, the example server in cli-serve.js. This file parses arguments and turns typed
// errors into one-line messages and the documented exit codes (never a stack trace for a
// user error).

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';

/** Exit codes: the Python `numpack` command's (python/numpack/cli.py). */
export const EXIT = Object.freeze({
  /** Success (`verify`: the store is clean). */
  OK: 0,
  /** `verify` found problems. */
  PROBLEMS: 1,
  /** Bad usage (unknown verb or option, missing argument), or the store cannot be read
   * (missing folder, corrupt files). */
  UNREADABLE: 2,
  /** Any other error: a missing file or array, an existing target, a bad argument, value,
   * dtype or index, a lock held by another writer, an I/O failure. */
  ERROR: 3,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
});

/** A usage error: printed with the verb's usage line, exit 2. */
export class UsageError extends Error {
  constructor(message) { super(message); this.name = 'UsageError'; }
}

const HELP = `usage: numpack VERB [options]   (npx numpack VERB --help for each verb)

verbs:
  info STORE [NAME]        arrays, shapes, dtypes, live/dropped rows, bytes on disk, reclaimable bytes
  head STORE NAME          the first rows of an array
  search STORE NAME        top-k rows for a query (--query q.npy | --row I | --vector 1,2,3)
  pack STORE [OUT.npkg]    one .npkg file from a store folder
  unpack PKG [DST]         a store folder from a .npkg file
  compact STORE [NAME...]  rewrite arrays without their dropped rows
  convert SRC DST          .npy / .npz <-> .npk store folder
  verify STORE             consistency check (exit 0 clean, 1 problems, 2 unreadable); --data, --repair
  serve-example            serve the browser search page (js/examples/search-page) on localhost

exit status (as the Python numpack command): 0 success; 1 verify found problems; 2 bad usage,
or the store cannot be read (missing, corrupt); 3 any other error (a missing file or array,
an existing target, a bad value/dtype/index, a locked store, I/O); 130 interrupted.`;

/** Parses `argv` for a verb spec `{ usage, options, positionals: [min, max] }`. */
export function parse(spec, argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...spec.options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e.message.split('\n')[0]);
  }
  if (parsed.values.help) return { help: true };
  const [min, max] = spec.positionals;
  if (parsed.positionals.length < min) throw new UsageError('missing argument');
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument ${parsed.positionals[max]}`);
  return { values: parsed.values, args: parsed.positionals };
}

/** The exit code for an error a verb threw. */
export function exitCode(err) {
  switch (err?.name) {
    case 'UsageError': case 'CorruptStoreError': case 'MissingInputError': return EXIT.UNREADABLE;
    default: return EXIT.ERROR;
  }
}

const KNOWN = new Set(['NotFoundError', 'IndexError', 'ValueError', 'DTypeError', 'NumPackError', 'CorruptStoreError',
  'StoreLockedError', 'StoreIOError', 'OutOfMemoryError', 'InternalError', 'UsageError', 'MissingInputError']);

/** Runs the command line `argv` (without node and the script); resolves to the exit code.
 * `out`/`err` receive the output lines (default: the process's streams). */
export async function main(argv, io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }) {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(`${HELP}\n`);
    return verb === undefined ? EXIT.UNREADABLE : EXIT.OK;
  }
  const { VERBS } = await import('./cli-verbs.js');
  const spec = VERBS[verb];
  if (!spec) {
    io.err(`numpack: error: unknown verb '${verb}' (npx numpack --help lists the verbs)\n`);
    return EXIT.UNREADABLE;
  }
  try {
    const p = parse(spec, rest);
    if (p.help) { io.out(`${spec.help.trim()}\n`); return EXIT.OK; }
    return (await spec.run(p.args, p.values, io)) ?? EXIT.OK;
  } catch (e) {
    if (e?.name === 'UsageError') {
      io.err(`${spec.help.trim().split('\n')[0]}\nnumpack ${verb}: error: ${e.message}\n`);
      return EXIT.UNREADABLE;
    }
    if (!KNOWN.has(e?.name) && !e?.code) throw e; // a bug: keep its stack trace
    const msg = String(e?.message ?? e).split('\n')[0];
    io.err(`numpack: error: ${msg}${KNOWN.has(e?.name) && !['MissingInputError', 'UsageError'].includes(e.name) ? ` (${e.name})` : ''}\n`);
    return exitCode(e);
  }
}

const invoked = process.argv[1] && (() => { try { return pathToFileURL(realpathSync(process.argv[1])).href; } catch { return ''; } })();
if (invoked === import.meta.url) {
  // `npx numpack head ... | head -1`: a closed pipe ends the output, not in a stack trace.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  process.once('SIGINT', () => { process.stderr.write('numpack: interrupted\n'); process.exit(EXIT.INTERRUPTED); });
  main(process.argv.slice(2)).then((code) => { if (code !== null) process.exitCode = code; });
}
