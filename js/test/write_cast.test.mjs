// The write cast rule from JS: append / replace send rows of any dtype to the core, which casts
// them to the stored dtype by NumPy's same_kind rule (bool < unsigned < signed < float < complex,
// any width within a kind) or refuses with DTypeError and writes nothing. Values are checked
// against the JS layer's own element conversion (`castData`, written independently of the core).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store, DTypeError, DTYPE_NAMES } from '../src/node.js';
import { DTYPES, castData } from '../src/dtypes.js';
import { sample, plain } from './helpers.mjs';

const RANK = { b: 0, u: 1, i: 2, f: 3, c: 4 };
const sameKind = (from, to) => RANK[DTYPES[from].kind] <= RANK[DTYPES[to].kind];

test('append and replace cast every dtype pair by same_kind, or refuse and write nothing', () => {
  for (const from of DTYPE_NAMES) {
    for (const to of DTYPE_NAMES) {
      const s = Store.memory();
      const lanes = DTYPES[to].lanes;
      const zeros = new DTYPES[to].ctor(4 * lanes);
      s.save({ a: { data: zeros, dtype: to, shape: [4] } });
      const before = plain(s.load('a').data);
      const rows = { data: sample(from, 2, 7), dtype: from, shape: [2] };
      if (sameKind(from, to)) {
        s.replace('a', [1, 2], rows);
        s.append('a', rows);
        const cast = plain(castData(rows.data, from, to));
        const want = [...before.slice(0, lanes), ...cast, ...before.slice(3 * lanes), ...cast];
        assert.deepEqual(plain(s.load('a').data), want, `${from} -> ${to}`);
      } else {
        assert.throws(() => s.replace('a', [1, 2], rows), DTypeError, `${from} -> ${to}`);
        assert.throws(() => s.append('a', rows), DTypeError, `${from} -> ${to}`);
        assert.deepEqual(plain(s.load('a').data), before, `${from} -> ${to}`);
        assert.deepEqual(s.shape('a'), [4]);
      }
    }
  }
});
