import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportCommand } from '../../src/cli/report-command.ts';
import { traceMain } from '../../src/cli/trace-command.ts';
import { runChecks } from '../../tracing/check/report.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import { buildModel } from '../../tracing/report/build-model.ts';
import type { ReportModel } from '../../tracing/report/model.ts';
import { writeReport } from '../../tracing/report/write-report.ts';
import { produceGoodRun, type GoodRun } from '../check/good-run.ts';
import { mutateRun, readRun } from '../check/mutate.ts';
import { leftOfCause } from './left-of-cause.ts';

/**
 * `raftkv report` on a real traced run (3 server processes, two clients, the leader killed
 * and restarted: test/check/good-run.ts), and on a copy of it whose history holds a read
 * of a value nobody wrote. The model is checked against what the trace bodies say; the
 * page is loaded in Debian's chromium (puppeteer-core) and queried by its data attributes.
 */

const CHROMIUM = findChromium();
const NO_CHROMIUM = `chromium is not installed (apt-get install -y chromium${process.env.CHROMIUM_PATH !== undefined ? `, or CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not a file` : ''}): the report browser tests are SKIPPED`;
if (!CHROMIUM) console.warn(NO_CHROMIUM);

let root: string;
let good: GoodRun;
let goodModel: ReportModel;
/** The copy whose first get of k1 by ben returns a value never written. */
let badDir: string;
let badGet: HistoryEntry;
/** What that get returns instead: also markup, which must stay text in the page. */
const BAD_VALUE = 'never-written </script><!-- <b>';

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-report-'));
  good = await produceGoodRun(path.join(root, 'run'));
  goodModel = buildModel(good.dir);
  badDir = mutateRun(good.dir, (run) => {
    // ben's, not ann's: ann put k1 before her get, so a wrong value there also breaks
    // client-key-order (a read returns what its own client's latest earlier write left);
    // ben never writes k1, so only linearizability can see this one.
    const get = run.history.find((h) => h.clientId === 'ben' && h.op.type === 'get' && h.op.key === 'k1' && h.error === undefined);
    if (!get) throw new Error('the good run has no answered get of k1 by ben');
    get.output = { value: BAD_VALUE };
    badGet = get;
    // The trace tells the same story, so only linearizability fails.
    for (const r of run.records) if (r.tag === 'GetResultRecvd' && r.traceId === `ben:${get.opId}`) r.body.value = BAD_VALUE;
  });
}, 180_000);

afterAll(() => {
  // The screenshots and reports (self-contained) stay for people to look at only when
  // asked (RAFTKV_KEEP_REPORTS=1); otherwise every run of the suite left a directory.
  if (process.env.RAFTKV_KEEP_REPORTS) {
    for (const dir of [badDir, good?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`report test: reports and screenshots in ${root}`);
  } else if (root) rmSync(root, { recursive: true, force: true });
});

describe('the report model of a real run', () => {
  it('infers from vector clocks the messages the bodies name, and lays every edge and host order left to right', () => {
    const byId = new Map(goodModel.events.map((e) => [e.id, e]));
    expect(goodModel.events.length).toBe(goodModel.totalEvents);
    expect(goodModel.unmatchedReceives).toBe(0);
    for (const e of goodModel.edges) expect(byId.get(e.from)!.level, `${e.from} -> ${e.to}`).toBeLessThan(byId.get(e.to)!.level);
    for (const host of goodModel.hosts.map((h) => h.name)) {
      const lane = goodModel.events.filter((e) => e.host === host).sort((a, b) => Number(a.id.split(':').pop()) - Number(b.id.split(':').pop()));
      for (let i = 1; i < lane.length; i++) expect(lane[i].level).toBeGreaterThan(lane[i - 1].level);
    }
    // Every event is right of every event that happens before it (by clock), arrow or not.
    const levelOf = new Map(goodModel.events.map((e) => [e.id, e.level]));
    const records = readRun(good.dir).records;
    expect(leftOfCause(records, (r) => levelOf.get(`${r.host}:${r.clock[r.host]}`)!)).toEqual([]);
    // Every AppendEntriesRecv gets exactly one arrow, from an event of the leader its body
    // names. A follower also records the receipt of a heartbeat the leader did not record
    // (when it learns a commit from it: docs/TRACING.md "Heartbeats"); that message carries
    // the leader's clock as of its latest recorded action, any leader event, so the arrow
    // starts there and is marked unrecorded. When it starts at an AppendEntries, that send
    // is to this receiver (read from the bodies).
    const bodies = new Map(readRun(good.dir).records.map((r) => [`${r.host}:${r.clock[r.host]}`, r.body]));
    const bodyOf = (id: string) => bodies.get(id)!;
    const edgesInto = (id: string) => goodModel.edges.filter((e) => e.to === id);
    const into = (id: string) => edgesInto(id).map((e) => byId.get(e.from)!);
    const recvs = goodModel.events.filter((e) => e.tag === 'AppendEntriesRecv');
    expect(recvs.length).toBeGreaterThan(5);
    const clockOf = new Map(records.map((rec) => [`${rec.host}:${rec.clock[rec.host]}`, rec.clock]));
    for (const r of recvs) {
      const body = bodyOf(r.id) as { leaderId: string };
      const [edge, ...more] = edgesInto(r.id);
      expect(more, r.id).toEqual([]);
      if (!edge) {
        // An unrecorded heartbeat carries the leader's clock as of its latest recorded
        // action, which this follower may know already: then the receive learns nothing of
        // the leader's events and, as in ShiViz, draws no arrow. Only then.
        const own = Number(r.id.split(':').pop());
        const before = clockOf.get(`${r.host}:${own - 1}`) ?? {};
        expect(clockOf.get(r.id)![body.leaderId] ?? 0, `${r.id} learned of ${body.leaderId}'s events but has no arrow`).toBeLessThanOrEqual(before[body.leaderId] ?? 0);
        continue;
      }
      const from = byId.get(edge.from)!;
      expect(from.host, r.id).toBe(body.leaderId);
      // An unrecorded heartbeat's clock may be that of an AppendEntries the leader sent to another peer.
      if (from.tag === 'AppendEntries' && bodyOf(from.id).to === r.host) expect(edge.unrecorded, r.id).toBeUndefined();
      else expect(edge.unrecorded, `${from.tag} ${from.id} -> ${r.id}`).toBe(true);
    }
    // Most are of recorded sends (those that carry entries or a new commit index).
    expect(recvs.filter((r) => edgesInto(r.id)[0]?.unrecorded === undefined && edgesInto(r.id).length > 0).length).toBeGreaterThan(recvs.length / 2);
    // And every vote answer the candidate took comes from the voter it names.
    for (const r of goodModel.events.filter((e) => e.tag === 'RequestVoteResRecv')) {
      expect(into(r.id).map((s) => `${s.tag}@${s.host}`)).toEqual([`RequestVoteRes@${bodyOf(r.id).from as string}`]);
    }
  });

  it('draws no arrow into a receive whose sender is missing from the trace, and counts it', () => {
    // As if the leader's process had lost the record of one AppendEntries it sent.
    let lostRecv = '';
    const dir = mutateRun(good.dir, (run) => {
      const recv = run.records.find((r) => r.tag === 'AppendEntriesRecv')!;
      const leader = recv.body.leaderId as string;
      const i = run.records.findIndex((r) => r.host === leader && r.tag === 'AppendEntries' && r.clock[leader] === recv.clock[leader]);
      expect(i).toBeGreaterThanOrEqual(0);
      run.records.splice(i, 1);
      lostRecv = `${recv.host}:${recv.clock[recv.host]}`;
    });
    try {
      const model = buildModel(dir);
      expect(model.unmatchedReceives).toBe(1);
      expect(model.edges.filter((e) => e.to === lostRecv)).toEqual([]);
      expect(model.edges.length).toBe(goodModel.edges.length - 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a lane per process, the terms the elections made, and a bar per operation and key', () => {
    expect(goodModel.hosts.map((h) => `${h.kind}:${h.name}`)).toEqual([...good.servers.map((s) => `server:${s}`), 'client:ann', 'client:ben']);
    const elected = goodModel.events.filter((e) => e.tag === 'LeaderElected');
    expect(goodModel.leaders.map((l) => l.event).sort()).toEqual(elected.map((e) => e.id).sort());
    // The first leader was killed, so a later term has another leader.
    expect(goodModel.terms.length).toBeGreaterThanOrEqual(2);
    expect(goodModel.terms[0].leader).toBe(good.firstLeader);
    expect(goodModel.terms.some((t) => t.leader !== undefined && t.leader !== good.firstLeader)).toBe(true);
    for (let i = 1; i < goodModel.terms.length; i++) {
      expect(goodModel.terms[i].term).toBeGreaterThan(goodModel.terms[i - 1].term);
      expect(goodModel.terms[i].start).toBe(goodModel.terms[i - 1].end);
    }
    const history = readRun(good.dir).history;
    const keysOf = (h: HistoryEntry) => new Set(h.op.type === 'mget' ? h.op.keys : h.op.type === 'mput' ? h.op.pairs.map((p) => p.key) : [h.op.key]).size;
    expect(goodModel.ops.length).toBe(history.reduce((n, h) => n + keysOf(h), 0));
    expect(goodModel.rules.map((r) => r.rule)).toEqual(runChecks(good.dir).results.map((r) => r.rule));
    expect(goodModel.ok).toBe(true);
    expect(goodModel.counterexamples).toEqual([]);
  });

  it('caps the events it draws at a level, keeping every drawn event\'s causes, and says so', async () => {
    const capped = buildModel(good.dir, { maxEvents: 100 });
    expect(capped.events.length).toBeLessThanOrEqual(100);
    expect(capped.events.length).toBeGreaterThan(50);
    expect(capped.totalEvents).toBe(goodModel.totalEvents);
    // The note gives a command to paste: the first event left out (by trace.jsonl line) as --from.
    const note = capped.notes.find((n) => n.startsWith('Drawing the first'))!;
    expect(note).not.toMatch(/[`<>]|logical time/);
    const m = /the first left out is (\w+) (\S+) \(trace\.jsonl line (\d+)\)\. For the events from there as a ShiViz log: npx raftkv trace slice (.*) \(or raise --max-events\)\.$/.exec(note);
    expect(m, note).not.toBeNull();
    const [, tag, firstOut, line, args] = m!;
    const drawnNow = new Set(capped.events.map((e) => e.id));
    const undrawn = goodModel.events.filter((e) => !drawnNow.has(e.id));
    expect(firstOut).toBe(undrawn.reduce((a, b) => (b.line < a.line ? b : a)).id);
    expect(tag).toBe(undrawn.find((e) => e.id === firstOut)!.tag);
    expect(Number(line)).toBe(undrawn.find((e) => e.id === firstOut)!.line);
    // ...which trace slice takes as it is (the run's path has no characters a shell quotes).
    const words = args.split(' ');
    expect(words).toEqual([good.dir, '--from', firstOut, '--max-events', '5000']);
    const sliceOut = path.join(root, 'from-note.log');
    let said = '';
    expect(await traceMain(['slice', ...words, '-o', sliceOut], { out: (t) => (said += t), err: (t) => (said += t) }), said).toBe(0);
    expect(readFileSync(sliceOut, 'utf8').split('\n')[2]).toMatch(new RegExp(`^${firstOut.split(':')[0]} \\{`));
    const drawn = new Set(capped.events.map((e) => e.id));
    const maxLevel = Math.max(...capped.events.map((e) => e.level));
    for (const e of goodModel.events) if (e.level <= maxLevel) expect(drawn.has(e.id)).toBe(true);
  });

  it('names the counterexample of a history that is not linearizable by its bars', () => {
    const model = buildModel(badDir);
    expect(model.rules.filter((r) => r.status === 'FAIL').map((r) => r.rule)).toEqual(['linearizability']);
    expect(model.counterexamples).toHaveLength(1);
    const [cx] = model.counterexamples;
    expect(cx.key).toBe('k1');
    expect(cx.culprit).toBe(`ben:${badGet.opId}`);
    expect(cx.ops).toContain(cx.culprit);
    expect(model.ops.find((o) => o.id === cx.culprit)?.output).toBe(JSON.stringify(BAD_VALUE));
  });

  it('raftkv report writes the page and exits as check does; an unreadable run exits 2', () => {
    let out = '';
    const io = { out: (t: string) => (out += `${t}\n`), err: (t: string) => (out += `${t}\n`) };
    const file = path.join(root, 'cli-report.html');
    expect(runReportCommand(good.dir, { out: file }, io)).toBe(0);
    expect(out).toMatch(/^wrote .*cli-report\.html \(\d+ events, \d+ messages, \d+ operation bars; \d+ KiB, \d+ ms\): every rule passed/);
    const html = readFileSync(file, 'utf8');
    // Self-contained: d3 inlined, nothing loaded from elsewhere (the browser test also watches requests).
    expect(/<script[^>]+src=|<link[^>]+href=|<img/i.test(html)).toBe(false);
    expect(html.includes('d3js.org v7.9.2')).toBe(true);
    expect(runReportCommand(badDir, { out: path.join(root, 'bad-cli.html') }, io)).toBe(1);
    expect(runReportCommand(path.join(root, 'nothing-here'), {}, io)).toBe(2);
    expect(out).toMatch(/raftkv report: no run directory .*nothing-here/);
    const empty = path.join(root, 'empty-run');
    mkdirSync(empty);
    expect(runReportCommand(empty, {}, io)).toBe(2);
    expect(out).toMatch(/raftkv report: cannot read .*trace\.jsonl/);
  });

  it('raftkv report grades a scenario\'s run with that scenario\'s rules too, as check does', () => {
    // The good run as if scenario 6 had made it: its rule (the client failed over) fails, there being no client0.
    const dir = mutateRun(good.dir, (run) => {
      run.meta = { ...run.meta, scenario: '06-mid-request-failure' };
    });
    try {
      const file = path.join(root, 'as-scenario-6.html');
      expect(runReportCommand(dir, { out: file }, { out: () => {}, err: () => {} })).toBe(1);
      const model = modelOf(file);
      expect(model.scenario).toBe('06-mid-request-failure');
      expect(model.rules.filter((r) => r.status === 'FAIL').map((r) => r.rule)).toEqual(['client-failed-over']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!CHROMIUM)('the report page in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await puppeteer.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--headless'], timeout: 120_000 });
  }, 150_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Loads a report; returns the page and the errors it logged. */
  async function open(file: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    // Generous: the machine may be busy (2 cores shared with server processes).
    page.setDefaultTimeout(90_000);
    await page.setViewport({ width: 1400, height: 900 });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) errors.push(`network request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForSelector('#rules tr[data-rule]');
    return { page, errors };
  }
  const count = (page: Page, selector: string) => page.$$eval(selector, (els) => els.length);

  it('draws lanes, messages, the term band, the operations and the rule table of a real run; a bar selects its events', async () => {
    const { file } = writeReport(good.dir);
    const { page, errors } = await open(file);
    expect(await page.$$eval('[data-lane]', (els) => els.map((e) => e.getAttribute('data-lane')))).toEqual(goodModel.hosts.map((h) => h.name));
    expect(await count(page, 'circle[data-event]')).toBe(goodModel.events.length);
    expect(await count(page, 'line[data-edge]')).toBe(goodModel.edges.length);
    // An arrow out of an unrecorded message is dashed and says what it is.
    expect(await count(page, 'line.edge.unrecorded[data-unrecorded="true"]')).toBe(goodModel.edges.filter((e) => e.unrecorded).length);
    const titles = await page.$$eval('line[data-edge]', (els) => els.map((e) => [e.getAttribute('data-edge'), e.querySelector('title')?.textContent ?? '']));
    const edgeTitle = new Map(titles as [string, string][]);
    for (const e of goodModel.edges) {
      const [from, to] = [goodModel.events.find((x) => x.id === e.from)!, goodModel.events.find((x) => x.id === e.to)!];
      expect(edgeTitle.get(`${e.from}>${e.to}`)).toMatch(e.unrecorded ? new RegExp(`^an unrecorded .* carrying ${from.host}'s clock as of its ${from.tag} ${e.from} -> ${to.tag} ${e.to}$`) : new RegExp(`^${from.tag} ${e.from} -> ${to.tag} ${e.to}$`));
    }
    expect(goodModel.edges.length).toBeGreaterThan(20);
    expect(await page.$$eval('g[data-term]', (els) => els.map((e) => Number(e.getAttribute('data-term'))))).toEqual(goodModel.terms.map((t) => t.term));
    expect(await count(page, `[data-leader-elected^="${good.firstLeader}:"]`)).toBeGreaterThanOrEqual(1);
    expect(await count(page, 'g[data-op]')).toBe(goodModel.ops.length);
    expect(await page.$$eval('#rules tr[data-rule]', (els) => els.map((e) => `${e.getAttribute('data-rule')}:${e.getAttribute('data-status')}`))).toEqual(
      goodModel.rules.map((r) => `${r.rule}:${r.status}`),
    );
    expect(await page.$eval('[data-verdict]', (e) => e.getAttribute('data-verdict'))).toBe('ok');

    // Clicking ann's first put highlights exactly that operation's events in the lanes.
    const put = goodModel.ops.find((o) => o.clientId === 'ann' && o.input.startsWith('put('))!;
    await page.click(`g[data-op="${put.id}"] rect`);
    const lit = await page.$$eval('circle[data-highlighted="true"]', (els) => els.map((e) => e.getAttribute('data-event')).sort());
    expect(lit).toEqual(goodModel.events.filter((e) => e.traceId === put.traceId).map((e) => e.id).sort());
    expect(lit.length).toBeGreaterThan(5);
    expect(await page.$eval('#details', (e) => e.textContent)).toContain(put.traceId);

    const shot = path.join(root, 'good-report.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
  }, 180_000);

  it('shows a failing history\'s counterexample, and its offender selects the culprit\'s Start in the lanes', async () => {
    const { file } = writeReport(badDir);
    const { page, errors } = await open(file);
    const culpritId = `ben:${badGet.opId}`;
    expect(await page.$eval('[data-verdict]', (e) => e.getAttribute('data-verdict'))).toBe('fail');
    expect(await page.$eval('#rules tr[data-rule="linearizability"]', (e) => e.getAttribute('data-status'))).toBe('FAIL');
    // The culprit's bar is marked, and the counterexample names it and its result.
    expect(await page.$$eval('g[data-cx="culprit"]', (els) => els.map((e) => e.getAttribute('data-op')))).toEqual([culpritId]);
    const cxText = await page.$eval('.counterexample[data-cx-key="k1"]', (e) => e.textContent);
    expect(cxText).toContain(`${culpritId} get(k1) -> ${JSON.stringify(BAD_VALUE)}`);
    const cxOps = buildModel(badDir).counterexamples[0].ops.length;
    expect(cxText).toContain(cxOps === 1 ? 'no order of this operation, each' : `no order of these ${cxOps} operations, each`);
    expect(await page.$eval('li.cx-line.culprit', (e) => e.getAttribute('data-cx-op'))).toBe(culpritId);
    expect(await page.$eval('text.key-label.cx', (e) => e.getAttribute('data-key'))).toBe('k1');
    // In the lanes, the events of the counterexample's operations are ringed: the culprit's among them.
    const ringed = await page.$$eval('circle[data-cx]', (els) => [...new Set(els.map((e) => e.getAttribute('data-cx')))]);
    const bad = buildModel(badDir);
    const cxTraceIds = bad.counterexamples[0].ops.map((id) => bad.ops.find((o) => o.id === id)!.traceId);
    expect(ringed.sort()).toEqual([...new Set(cxTraceIds)].sort());
    expect(ringed).toContain(culpritId);

    // The rule table's offender points at the culprit's GetStart; clicking it selects that event.
    const start = goodModel.events.find((e) => e.traceId === culpritId && e.tag === 'GetStart')!;
    // Each offender's data-offender says where it is, as check prints it (host:counter line N).
    const linRule = buildModel(badDir).rules.find((r) => r.rule === 'linearizability')!;
    expect(await page.$$eval('#rules tr[data-rule="linearizability"] li[data-offender]', (els) => els.map((e) => e.getAttribute('data-offender')))).toEqual(
      linRule.offenders.map((o) => `${o.event ?? o.host}${o.line !== null ? ` line ${o.line}` : ''}`),
    );
    expect(linRule.offenders[0].event).toBe(start.id);
    const offender = await page.$('#rules tr[data-rule="linearizability"] li[data-offender]');
    expect(await offender!.evaluate((e) => e.getAttribute('data-target'))).toBe(start.id);
    await offender!.click();
    expect(await page.$$eval('circle.primary[data-highlighted="true"]', (els) => els.map((e) => e.getAttribute('data-event')))).toEqual([start.id]);
    // ...scrolled into view in the lanes.
    const visible = await page.$eval(`circle[data-event="${start.id}"]`, (c) => {
      const r = c.getBoundingClientRect();
      const box = document.querySelector('.lane-scroll')!.getBoundingClientRect();
      return r.left >= box.left && r.right <= box.right;
    });
    expect(visible).toBe(true);

    const shot = path.join(root, 'counterexample-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
  }, 180_000);
});

/** The model a written page carries (its JSON script element). */
function modelOf(file: string): ReportModel {
  const html = readFileSync(file, 'utf8');
  const json = html.split('<script type="application/json" id="report-model">')[1]?.split('</script>')[0];
  if (json === undefined) throw new Error(`${file} holds no report model`);
  return JSON.parse(json) as ReportModel;
}

/** Debian's chromium on PATH, or CHROMIUM_PATH when set (null when that file does not exist). */
function findChromium(): string | null {
  if (process.env.CHROMIUM_PATH !== undefined) return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const found = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not this name
    }
  }
  return null;
}
