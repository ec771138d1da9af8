// Drives the dashboard in headless Debian chromium (run by tests/it/dashboard.rs).
//
//   node check.js <http://admin/dashboard#key=…>
//
// 1. Opens the page, waits for its first rates (two polls), prints
//    `BEFORE {figures}`.
// 2. Reads one line of JSON from stdin, `{"requests_total": N}`, once the
//    caller has sent its traffic; waits until the page shows N requests and
//    prints `AFTER {figures}`.
// 3. Opens the page with a wrong key and prints `DENIED {figures}`.
// 4. Prints `ERRORS [...]`: console errors and uncaught exceptions of the
//    first page (a CSP violation shows up there).
// The caller compares the figures. SCREENSHOT=<file.png> saves the page
// as it shows the traffic. Everything is bounded by timeouts, and
// the browser is closed on every path.
'use strict';

const readline = require('node:readline');
const { chromium } = require('playwright-core');

const url = process.argv[2];
const STEP_MS = 15000;
const TOTAL_MS = 90000;

/** What the page shows, read from the DOM (raw values from data-value). */
function figures() {
  const $ = (sel) => document.querySelector(sel);
  const val = (id) => {
    const v = document.getElementById(id).dataset.value;
    return v === undefined || v === '' ? null : Number(v);
  };
  const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map((tr) => ({ ...tr.dataset }));
  return {
    status: $('#status').dataset.state || null,
    status_text: $('#status').textContent,
    login_visible: !$('#login').hidden,
    fragment: location.hash,
    version: $('#version').textContent,
    requests_total: val('requests-total'),
    rps: val('rps'),
    error_ratio: val('error-pct'),
    errors_5xx: val('errors-5xx'),
    latency_p50_ms: val('latency'),
    latency_text: $('#latency').textContent,
    cost_total: val('cost-total'),
    cost_text: $('#cost-total').textContent,
    spark_points: Number($('#spark').dataset.points || 0),
    backends: rows('backends').filter((r) => r.provider),
    models: rows('models').filter((r) => r.provider !== undefined),
  };
}

async function waitFor(page, check, what) {
  const end = Date.now() + STEP_MS;
  for (;;) {
    const f = await page.evaluate(figures);
    if (check(f)) return f;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what + ': ' + JSON.stringify(f));
    await page.waitForTimeout(200);
  }
}

function nextLine() {
  const rl = readline.createInterface({ input: process.stdin });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no line on stdin')), STEP_MS * 2);
    rl.once('line', (line) => {
      clearTimeout(t);
      rl.close();
      resolve(JSON.parse(line));
    });
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--disable-dev-shm-usage', '--disable-gpu'],
    timeout: STEP_MS,
  });
  const guard = setTimeout(() => {
    console.error('check.js: overall timeout');
    browser.close().finally(() => process.exit(3));
  }, TOTAL_MS);
  try {
    const errors = [];
    const page = await browser.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url, { timeout: STEP_MS });
    const before = await waitFor(page, (f) => f.status === 'live' && f.rps !== null, 'the first rates');
    console.log('BEFORE ' + JSON.stringify(before));

    const want = await nextLine();
    const after = await waitFor(page, (f) => f.requests_total >= want.requests_total, 'the new traffic');
    console.log('AFTER ' + JSON.stringify(after));
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

    const denied = await browser.newPage();
    await denied.goto(url.replace(/#.*/, '#key=not-the-admin-key'), { timeout: STEP_MS });
    const d = await waitFor(denied, (f) => f.status === 'denied', 'the wrong-key state');
    console.log('DENIED ' + JSON.stringify(d));
    console.log('ERRORS ' + JSON.stringify(errors));
  } finally {
    clearTimeout(guard);
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error('check.js: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
  },
);
