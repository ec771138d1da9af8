// Switchyard dashboard: polls /admin/stats with the admin key and draws it.
// The key comes from the URL fragment (#key=…, never sent to the server) or
// the form, and is kept in sessionStorage (this tab only). Counters from the
// gateway are cumulative: rates are differences between successive polls,
// kept here for the last five minutes.
'use strict';

const POLL_MS = 1000;
const TIMEOUT_MS = 5000;
const RATE_WINDOW_S = 10;
const HISTORY_S = 300;
const STORE = 'switchyard-admin-key';

const $ = (id) => document.getElementById(id);
let key = null;
let timer = null;
/** {t (s), total, errors, cost} per poll, oldest first. */
let samples = [];
/** {t, rps, eps} per poll interval, for the sparkline. */
let series = [];

function keyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const k = params.get('key');
  if (k) {
    // Out of the address bar (and history) once read.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return k;
}

function start() {
  key = keyFromFragment() || sessionStorage.getItem(STORE);
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    connect($('key').value.trim());
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(STORE);
    stop();
    key = null;
    askForKey('Key forgotten.');
  });
  if (key) {
    connect(key);
  } else {
    askForKey(null);
  }
}

function connect(k) {
  key = k;
  sessionStorage.setItem(STORE, k);
  $('login').hidden = true;
  $('forget').hidden = false;
  samples = [];
  series = [];
  stop();
  poll();
}

function stop() {
  if (timer) clearTimeout(timer);
  timer = null;
}

function askForKey(reason) {
  $('login').hidden = false;
  $('forget').hidden = true;
  if (reason) $('login-reason').textContent = reason;
  $('key').value = '';
  $('key').focus();
}

function setStatus(cls, text) {
  const el = $('status');
  el.className = 'status ' + cls;
  el.textContent = text;
  el.dataset.state = cls;
}

async function poll() {
  const ctl = new AbortController();
  const abort = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch('/admin/stats', {
      headers: { authorization: 'Bearer ' + key },
      cache: 'no-store',
      signal: ctl.signal,
    });
    if (res.status === 401) {
      setStatus('denied', 'wrong key');
      sessionStorage.removeItem(STORE);
      askForKey('The gateway refused that key (401). Enter the admin key.');
      return;
    }
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    setStatus('live', 'live');
  } catch (e) {
    setStatus('down', 'unreachable: ' + (e.name === 'AbortError' ? 'timed out' : e.message));
  } finally {
    clearTimeout(abort);
  }
  timer = setTimeout(poll, POLL_MS);
}

// ---- figures -------------------------------------------------------------

function num(n) {
  return n == null ? '–' : Number(n).toLocaleString('en-US');
}

function usd(v) {
  if (v == null) return '–';
  if (v === 0) return '$0';
  if (v < 0.01) return '$' + v.toPrecision(2);
  return '$' + v.toFixed(v < 100 ? 2 : 0);
}

function ms(v) {
  if (v == null) return '–';
  return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : Math.round(v) + ' ms';
}

function pct(v) {
  return v == null ? '–' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%';
}

/** Sets an element's text and, for tests and tooling, its raw value. */
function show(id, text, value) {
  const el = $(id);
  el.textContent = text;
  el.dataset.value = value == null ? '' : String(value);
}

function sumValues(obj) {
  return Object.values(obj || {}).reduce((a, b) => a + b, 0);
}

function record(s) {
  const now = Date.now() / 1000;
  const sample = {
    t: now,
    total: s.requests.total,
    errors: s.requests['4xx'] + s.requests['5xx'],
    cost: s.cost_usd,
  };
  const last = samples[samples.length - 1];
  if (last && sample.total < last.total) {
    samples = []; // the gateway restarted: counters began again
    series = [];
  } else if (last) {
    const dt = Math.max(sample.t - last.t, 0.001);
    series.push({
      t: now,
      rps: (sample.total - last.total) / dt,
      eps: (sample.errors - last.errors) / dt,
    });
  }
  samples.push(sample);
  samples = samples.filter((x) => now - x.t <= HISTORY_S);
  series = series.filter((x) => now - x.t <= HISTORY_S);
}

/** Rates over the last RATE_WINDOW_S seconds of polls; null before two polls. */
function rates() {
  const last = samples[samples.length - 1];
  const first = samples.find((x) => last.t - x.t <= RATE_WINDOW_S);
  if (!first || first === last) return null;
  const dt = last.t - first.t;
  const requests = last.total - first.total;
  return {
    rps: requests / dt,
    errorRatio: requests > 0 ? (last.errors - first.errors) / requests : null,
  };
}

function render(s) {
  record(s);
  $('version').textContent = s.version;
  $('state').textContent = s.state.kind + (s.state.healthy ? '' : ' (unreachable)');
  $('ledger').textContent = s.ledger
    ? s.ledger.target + (s.ledger.pending ? ' · ' + num(s.ledger.pending) + ' pending' : '')
    : 'off';
  $('updated').textContent = new Date().toLocaleTimeString();

  const r = rates();
  show('rps', r ? r.rps.toFixed(r.rps < 10 ? 2 : 0) : '–', r ? r.rps : null);
  show('requests-total', num(s.requests.total), s.requests.total);
  show('in-flight', num(s.in_flight.requests), s.in_flight.requests);
  show('error-pct', r ? pct(r.errorRatio) : '–', r ? r.errorRatio : null);
  $('error-pct').classList.toggle('bad', !!(r && r.errorRatio > 0.05));
  show('errors-4xx', num(s.requests['4xx']), s.requests['4xx']);
  show('errors-5xx', num(s.requests['5xx']), s.requests['5xx']);

  latencyTile('latency', s.recent, 'latency_ms', s);
  latencyTile('ttft', s.recent, 'ttft_ms', s);

  const perMin = s.recent ? s.recent.cost_usd_per_min : null;
  show('cost-per-min', usd(perMin), perMin);
  show('cost-total', usd(s.cost_usd), s.cost_usd);
  const tokens = s.tokens.prompt + s.tokens.completion;
  show('tokens-total', num(tokens), tokens);

  const res = s.cache.results || {};
  const lookups = (res.hit || 0) + (res.miss || 0);
  show('cache-ratio', pct(s.cache.hit_ratio), s.cache.hit_ratio);
  $('cache-detail').textContent = lookups
    ? num(res.hit || 0) + ' of ' + num(lookups) + ' lookups · ' + num(s.cache.coalesced) + ' coalesced'
    : 'no cached routes used yet';

  const limited = sumValues(s.rejections.rate_limit);
  show('rejected', num(limited + s.rejections.budget), limited + s.rejections.budget);
  const scopes = Object.entries(s.rejections.rate_limit || {}).map(([k, v]) => num(v) + ' ' + k);
  $('rejected-detail').textContent =
    'rate limit: ' + (scopes.length ? scopes.join(', ') : '0') + ' · budget: ' + num(s.rejections.budget);

  sparkline();
  backends(s.providers);
  models(s.models);
  routes(s.routes);
}

/** p50 / p95 over the server's recent window, or since start if it saw none. */
function latencyTile(id, recent, field, all) {
  const windowed = recent && recent[field].count > 0;
  const h = windowed ? recent[field] : all[field];
  show(id, h.count ? ms(h.p50) + ' / ' + ms(h.p95) : '–', h.p50);
  $(id + '-window').textContent = !h.count
    ? 'none yet'
    : windowed
      ? num(h.count) + ' in the last ' + Math.round(recent.window_s) + ' s'
      : num(h.count) + ' since start';
}

// ---- sparkline -----------------------------------------------------------

function sparkline() {
  const now = Date.now() / 1000;
  const max = Math.max(1, ...series.map((p) => p.rps));
  const pts = (field) =>
    series
      .map((p) => {
        const x = ((p.t - (now - HISTORY_S)) / HISTORY_S) * 600;
        const y = 78 - (p[field] / max) * 74;
        return x.toFixed(1) + ',' + y.toFixed(1);
      })
      .join(' ');
  $('spark-ok').setAttribute('points', pts('rps'));
  $('spark-err').setAttribute('points', pts('eps'));
  $('spark-max').textContent = '· peak ' + max.toFixed(max < 10 ? 1 : 0) + '/s';
  $('spark').dataset.points = String(series.length);
}

// ---- tables --------------------------------------------------------------

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function pill(row, text, cls) {
  const td = cell(row, '');
  const span = document.createElement('span');
  span.className = 'pill ' + cls;
  span.textContent = text;
  td.appendChild(span);
  return td;
}

function fill(tableId, rows, columns) {
  const body = $(tableId).querySelector('tbody');
  body.replaceChildren(...rows);
  if (!rows.length) {
    const tr = document.createElement('tr');
    cell(tr, 'nothing yet', 'empty').colSpan = columns;
    body.appendChild(tr);
  }
}

function backends(providers) {
  const rows = [];
  for (const p of providers || []) {
    for (const b of p.backends) {
      const tr = document.createElement('tr');
      tr.dataset.provider = p.name;
      tr.dataset.backend = b.label;
      tr.dataset.circuit = b.circuit.state;
      tr.dataset.healthy = String(b.healthy);
      if (!p.enabled) tr.className = 'disabled';
      cell(tr, p.name);
      cell(tr, b.label).title = b.base_url;
      pill(tr, b.healthy ? 'healthy' : 'unhealthy', b.healthy ? 'healthy' : 'unhealthy');
      const retry = b.circuit.retry_in_ms != null ? ' · ' + Math.ceil(b.circuit.retry_in_ms / 1000) + ' s' : '';
      pill(tr, b.circuit.state.replace('_', '-') + retry, b.circuit.state);
      cell(tr, num(b.in_flight), 'num');
      cell(tr, ms(b.first_byte_ms.p50), 'num');
      cell(tr, ms(b.first_byte_ms.p95), 'num');
      rows.push(tr);
    }
  }
  fill('backends', rows, 7);
}

function models(list) {
  const rows = (list || [])
    .filter((m) => m.provider !== '' || m.requests.total > 0)
    .sort((a, b) => b.cost_usd - a.cost_usd || b.requests.total - a.requests.total)
    .map((m) => {
      const tr = document.createElement('tr');
      tr.dataset.provider = m.provider;
      tr.dataset.model = m.model;
      tr.dataset.cost = String(m.cost_usd);
      tr.dataset.requests = String(m.requests.total);
      cell(tr, m.provider || '(no provider)').title = 'refused or failed before a provider answered';
      cell(tr, m.model || '–');
      cell(tr, num(m.requests.total), 'num');
      cell(tr, num(m.requests['4xx'] + m.requests['5xx']), 'num');
      cell(tr, num(m.tokens.prompt), 'num');
      cell(tr, num(m.tokens.completion), 'num');
      cell(tr, num(m.tokens.cached), 'num');
      cell(tr, usd(m.cost_usd), 'num');
      return tr;
    });
  fill('models', rows, 8);
}

function routes(list) {
  const rows = (list || []).map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.route = r.route;
    cell(tr, r.route || '(no route)').title = 'refused before routing (auth, unknown model, bad request)';
    cell(tr, num(r.requests.total), 'num');
    cell(tr, num(r.requests['4xx']), 'num');
    cell(tr, num(r.requests['5xx']), 'num');
    return tr;
  });
  fill('routes', rows, 4);
}

start();
