// Runs one case of the bad-call matrix (badcalls.cases.mjs) in this process and prints
// `{ threw, cls, documented, message }` as JSON. Usage: node badcalls.child.mjs <store dir> <case index>
import * as np from '../src/node.js';
import { CASES } from './badcalls.cases.mjs';

const [dir, index, file] = process.argv.slice(2);
const DOCUMENTED = [np.NumPackError, np.NotFoundError, np.IndexError, np.ValueError, np.DTypeError];
const c = CASES[Number(index)];
const s = np.open(dir, { clock: () => 1 });
if (c.closed) s.close();
const vs = new np.VectorSearch();
let out;
try {
  c.call({ np, s, vs, dir, file });
  out = { threw: false };
} catch (e) {
  out = { threw: true, cls: e?.constructor?.name ?? typeof e, documented: DOCUMENTED.some((C) => e instanceof C), message: String(e?.message ?? e).slice(0, 300) };
}
process.stdout.write(JSON.stringify(out));
