// A writer that takes a store's exclusive lock through the Node back end and holds it: the lock
// tests of both runtimes (js/test/lock.test.mjs, python/tests/test_cross_lock.py) run it as
// `node lock_holder.mjs DIR [GO_FILE]`. It prints `ready` once it holds the lock. With GO_FILE
// it holds until that file appears, then 300 ms more, then leaves `GO_FILE.released` just
// before unlocking (so a waiter can prove it finished after the release); without, forever.
import fs from 'node:fs';
import { NodeFsBackend } from '../src/node.js';

const [dir, goFile] = process.argv.slice(2);
const be = new NodeFsBackend(dir);
be.lock('exclusive');
console.log('ready');
if (goFile) {
  const poll = setInterval(() => {
    if (!fs.existsSync(goFile)) return;
    clearInterval(poll);
    setTimeout(() => { fs.writeFileSync(goFile + '.released', ''); be.unlock(); process.exit(0); }, 300);
  }, 10);
} else setInterval(() => {}, 1 << 30);
