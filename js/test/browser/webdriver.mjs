// A headless Chromium driven through chromedriver with plain WebDriver calls over fetch (no npm
// dependency), for page tests: `const b = await chromium(); await b.open(url); ...; await b.close()`.
// Same flags as run.mjs (a closed network: no background traffic, QUIC off).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** Starts chromedriver and a Chromium session with a fresh profile. */
export async function chromium({ port = 9900 + Math.floor(Math.random() * 90) } = {}) {
  const driver = spawn(process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver', [`--port=${port}`], { stdio: 'ignore' });
  const wd = `http://127.0.0.1:${port}`;
  /** One WebDriver command; its `value`, or an Error with the driver's message. */
  async function call(method, p, body) {
    const r = await fetch(wd + p, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const j = await r.json();
    if (!r.ok) throw new Error(`${method} ${p}: ${JSON.stringify(j.value).slice(0, 500)}`);
    return j.value;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'numpack-chromium-'));
  let session = null;
  const close = async () => {
    if (session) await call('DELETE', `/session/${session}`).catch(() => {});
    driver.kill();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      try { await call('GET', '/status'); break; } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
    }
    session = (await call('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
        binary: process.env.CHROMIUM ?? '/usr/bin/chromium', args: [...ARGS, `--user-data-dir=${profile}`],
      } } },
    })).sessionId;
  } catch (e) { await close(); throw e; }
  const s = `/session/${session}`;
  const element = async (css) => Object.values(await call('POST', `${s}/element`, { using: 'css selector', value: css }))[0];
  return {
    /** Navigates to `url` (waits for the load event). */
    open: (url) => call('POST', `${s}/url`, { url }),
    /** Runs `script` (a function body; `arguments` are `args`) in the page; its return value. */
    js: (script, ...args) => call('POST', `${s}/execute/sync`, { script, args }),
    /** Clicks the element matching `css`. */
    click: async (css) => call('POST', `${s}/element/${await element(css)}/click`, {}),
    /** Types `text` into the element matching `css` (for a file input: a file path). */
    type: async (css, text) => call('POST', `${s}/element/${await element(css)}/value`, { text }),
    close,
  };
}
