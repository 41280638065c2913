import type { ReportEvent, ReportModel, ReportOp } from './model.ts';

declare const d3: typeof import('d3');

/**
 * The page's drawing code, run in the browser. page.ts inlines its source text
 * (`drawReport.toString()`) after d3's bundle, so the function must stand alone: it uses
 * only the global `d3` (7.9.2), the DOM and its argument, and imports types only.
 *
 * What it draws (ShiViz's and Porcupine's pictures, in one page):
 *   - a lane per process, events placed by logical time (model levels), and the messages
 *     between them as arrows; a term band above the lanes with LeaderElected marks, and
 *     each server's own term as a tint behind its lane;
 *   - per key, each client operation as a bar from call to return (ms), concurrent ones
 *     on tracks of their own; the bars of a counterexample outlined, its culprit in red;
 *   - the rule table, whose offenders (and a counterexample's lines, and the bars) select
 *     and scroll to their events in the lanes.
 * Elements carry data attributes (data-event, data-edge, data-lane, data-term, data-op,
 * data-rule, data-offender, data-cx, data-highlighted) for people's devtools and the
 * browser test.
 */
export function drawReport(model: ReportModel): void {
  const LANE_H = 34;
  const BAND_H = 30;
  const PAD_L = 16;
  const LABEL_W = 120;
  const TAG_COLOR: Record<string, string> = {
    election: '#d9822b',
    replication: '#2d7dd2',
    client: '#2e9e5b',
    lifecycle: '#7a7a7a',
    config: '#8e44ad',
  };
  let pxPerLevel = model.levels > 3000 ? 8 : 16;

  const category = (tag: string): string => {
    if (/^(RequestVote|LeaderElected|TimeoutNow|LeaderTransfer)/.test(tag)) return 'election';
    if (/^(AppendEntries|InstallSnapshot|Commit|Apply|Snapshot)/.test(tag)) return 'replication';
    if (/^ConfChange/.test(tag)) return 'config';
    if (/^(Server|RaftStart)/.test(tag)) return 'lifecycle';
    return 'client';
  };
  const byId = new Map<string, ReportEvent>(model.events.map((e) => [e.id, e]));
  // The trace ids of a counterexample's operations: their events are ringed in red in the lanes.
  const traceIdOfOp = new Map(model.ops.map((o) => [o.id, o.traceId]));
  const cxTraceIds = new Set(model.counterexamples.flatMap((c) => c.ops.map((id) => traceIdOfOp.get(id) ?? id)));
  const laneIndex = new Map(model.hosts.map((h, i) => [h.name, i]));
  const termColor = (t: number) => d3.schemeTableau10[t % 10];

  const root = d3.select('#report');
  // ------------------------------------------------------------------ header
  const head = root.append('header');
  head.append('h1').text(model.title);
  const failed = model.rules.filter((r) => r.status === 'FAIL').map((r) => r.rule);
  head
    .append('p')
    .attr('class', `verdict ${model.ok ? 'ok' : 'fail'}`)
    .attr('data-verdict', model.ok ? 'ok' : 'fail')
    .text(model.ok ? `OK: ${model.rules.length} rules, none failed` : `FAILED: ${failed.join(', ')}`);
  head
    .append('p')
    .attr('class', 'meta')
    .text(
      `${model.runDir}${model.scenario ? ` (scenario ${model.scenario})` : ''}: ${model.totalEvents} events, ${model.edges.length} messages drawn, ` +
        `${model.totalOps} operation bars, generated ${model.generatedAt}`,
    );
  for (const n of model.notes) head.append('p').attr('class', 'note').attr('data-note', '').text(n);
  if (model.unmatchedReceives > 0) head.append('p').attr('class', 'note').text(`${model.unmatchedReceives} receives have no sender in the trace (lost with a killed process, or never sent to the tracing server): no arrow is drawn for them.`);

  for (const s of model.sections ?? []) {
    const sec = head.append('section').attr('class', 'extra').attr('data-section', s.title);
    sec.append('h2').text(s.title);
    sec.append('ol').attr('class', 'extra-rows').selectAll('li').data(s.rows).join('li').text((r) => r);
  }

  // Page order: the picture first, then the counterexample, the operations, the rules.
  const lanesSec = root.append('section').attr('id', 'lanes');
  const cxSec = root.append('section').attr('id', 'counterexamples');
  const opsSec = root.append('section').attr('id', 'operations');
  const rulesSec = root.append('section').attr('id', 'rules');

  // ------------------------------------------------------------------ details panel
  const panel = d3.select('body').append('aside').attr('id', 'details').style('display', 'none');
  const showDetails = (title: string, lines: string[]) => {
    panel.style('display', null).html('');
    panel.append('button').attr('class', 'close').text('×').on('click', () => panel.style('display', 'none'));
    panel.append('h3').text(title);
    panel.append('pre').text(lines.join('\n'));
  };

  // ------------------------------------------------------------------ rules
  rulesSec.append('h2').text('Rules (raftkv check)');
  const table = rulesSec.append('table').attr('class', 'rules');
  table.append('thead').append('tr').selectAll('th').data(['rule', 'result', 'note and offenders']).join('th').text((d) => d);
  const rows = table
    .append('tbody')
    .selectAll('tr')
    .data(model.rules)
    .join('tr')
    .attr('data-rule', (r) => r.rule)
    .attr('data-status', (r) => r.status)
    .attr('class', (r) => r.status.toLowerCase());
  rows.append('td').attr('class', 'rule-name').text((r) => r.rule);
  rows.append('td').attr('class', 'status').text((r) => r.status);
  const cell = rows.append('td');
  cell.filter((r) => !!r.note).append('div').attr('class', 'rule-note').text((r) => r.note ?? '');
  const offs = cell
    .filter((r) => r.offenders.length > 0)
    .append('ol')
    .attr('class', 'offenders')
    .selectAll('li')
    .data((r) => r.offenders)
    .join('li')
    .attr('class', (o) => `offender${o.event && byId.has(o.event) ? ' linked' : ''}`)
    .attr('data-offender', (o) => `${o.event ?? o.host}${o.line !== null ? ` line ${o.line}` : ''}`)
    .attr('data-target', (o) => o.event ?? '')
    .attr('title', (o) => (o.event ? (byId.has(o.event) ? 'show this event in the lanes' : 'this event is not drawn (past the cap)') : 'no single event (history.json or a file)'));
  offs.append('span').attr('class', 'where').text((o) => `${o.event ?? o.host}${o.line !== null ? ` line ${o.line}` : ''}: `);
  offs.append('span').text((o) => o.message);
  offs.filter((o) => o.details.length > 0).append('pre').attr('class', 'offender-details').text((o) => o.details.join('\n'));
  offs.on('click', (_ev, o) => {
    const ids = [o.event, ...o.related].filter((id): id is string => id !== null);
    select(ids, o.event, `${o.event ?? o.host}: ${o.message}`, o.details);
  });
  rows
    .filter((r) => r.count > r.offenders.length)
    .select('td:last-child')
    .append('div')
    .attr('class', 'rule-note')
    .text((r) => `... and ${r.count - r.offenders.length} more offenders`);

  // ------------------------------------------------------------------ counterexamples
  const opById = new Map<string, ReportOp>(model.ops.map((o) => [o.id, o]));
  if (model.counterexamples.length > 0) {
    cxSec.append('h2').text('Linearizability counterexample');
    for (const cx of model.counterexamples) {
      const div = cxSec.append('div').attr('class', 'counterexample').attr('data-cx-key', cx.key);
      const culprit = opById.get(cx.culprit);
      div
        .append('p')
        .text(
          `Key ${JSON.stringify(cx.key)}: no order of ${cx.ops.length === 1 ? 'this operation' : `these ${cx.ops.length} operations`}, each taking effect between its call and return, explains ` +
            `${culprit ? `${culprit.traceId} ${culprit.input} -> ${culprit.output}` : cx.culprit}${cx.minimal ? '' : ' (not minimized)'}. Times are ms after the first call; * marks the unexplained result.`,
        );
      div
        .append('ol')
        .selectAll('li')
        .data(cx.ops.map((id, i) => ({ id, line: cx.lines[i] ?? id })))
        .join('li')
        .attr('class', (d) => `cx-line linked${d.id === cx.culprit ? ' culprit' : ''}`)
        .attr('data-cx-op', (d) => d.id)
        .text((d) => d.line)
        .on('click', (_ev, d) => selectOp(d.id));
    }
  }

  // ------------------------------------------------------------------ lanes
  lanesSec.append('h2').text('Processes and messages (logical time, left to right)');
  const controls = lanesSec.append('div').attr('class', 'controls');
  controls.append('button').text('narrower').attr('data-zoom', 'out').on('click', () => rezoom(0.5));
  controls.append('button').text('wider').attr('data-zoom', 'in').on('click', () => rezoom(2));
  const edgeToggle = controls.append('label');
  edgeToggle
    .append('input')
    .attr('type', 'checkbox')
    .property('checked', true)
    .on('change', function () {
      lanesSvg.select('g.edges').style('display', (this as HTMLInputElement).checked ? '' : 'none');
    });
  edgeToggle.append('span').text(' messages');
  const legend = controls.append('span').attr('class', 'legend');
  for (const [name, color] of Object.entries(TAG_COLOR)) {
    legend.append('span').attr('class', 'swatch').style('background', color);
    legend.append('span').text(` ${name} `);
  }
  legend.append('span').text('  ★ LeaderElected  | ShiViz-style: an event sits right of everything that happened before it');

  const frame = lanesSec.append('div').attr('class', 'lane-frame');
  const height = BAND_H + model.hosts.length * LANE_H + 10;
  const labels = frame.append('svg').attr('class', 'lane-labels').attr('width', LABEL_W).attr('height', height);
  labels.append('text').attr('x', 4).attr('y', BAND_H / 2 + 4).attr('class', 'band-label').text('term (cluster)');
  labels
    .selectAll('text.lane-label')
    .data(model.hosts)
    .join('text')
    .attr('class', (h) => `lane-label ${h.kind}`)
    .attr('x', 4)
    .attr('y', (_h, i) => BAND_H + i * LANE_H + LANE_H / 2 + 4)
    .text((h) => h.name);
  const scroller = frame.append('div').attr('class', 'lane-scroll');
  const lanesSvg = scroller.append('svg').attr('id', 'lanes-svg').attr('height', height);
  const defs = lanesSvg.append('defs');
  defs
    .append('marker')
    .attr('id', 'arrow')
    .attr('viewBox', '0 0 10 10')
    .attr('refX', 10)
    .attr('refY', 5)
    .attr('markerWidth', 6)
    .attr('markerHeight', 6)
    .attr('orient', 'auto-start-reverse')
    .append('path')
    .attr('d', 'M 0 0 L 10 5 L 0 10 z')
    .attr('fill', '#8a8a8a');

  const xOf = (level: number) => PAD_L + level * pxPerLevel;
  const yOf = (host: string) => BAND_H + (laneIndex.get(host) ?? 0) * LANE_H + LANE_H / 2;
  const gLaneBg = lanesSvg.append('g').attr('class', 'lane-terms');
  const gLanes = lanesSvg.append('g').attr('class', 'lanes');
  const gBand = lanesSvg.append('g').attr('class', 'term-band');
  const gEdges = lanesSvg.append('g').attr('class', 'edges');
  const gEvents = lanesSvg.append('g').attr('class', 'events');

  function drawLanes(): void {
    const width = xOf(model.levels) + PAD_L;
    lanesSvg.attr('width', width);
    gLanes
      .selectAll('line')
      .data(model.hosts)
      .join('line')
      .attr('data-lane', (h) => h.name)
      .attr('class', (h) => `lane ${h.kind}`)
      .attr('x1', 0)
      .attr('x2', width)
      .attr('y1', (h) => yOf(h.name))
      .attr('y2', (h) => yOf(h.name));
    gLaneBg
      .selectAll('rect')
      .data(model.laneTerms)
      .join('rect')
      .attr('data-lane-term', (t) => `${t.host}:${t.term}`)
      .attr('x', (t) => xOf(t.start) - pxPerLevel / 2)
      .attr('width', (t) => Math.max(1, (t.end - t.start) * pxPerLevel))
      .attr('y', (t) => yOf(t.host) - LANE_H / 2 + 3)
      .attr('height', LANE_H - 6)
      .attr('fill', (t) => termColor(t.term))
      .attr('opacity', 0.13)
      .selectAll('title')
      .data((t) => [t])
      .join('title')
      .text((t) => `${t.host} in term ${t.term}`);
    const spans = gBand
      .selectAll('g.term')
      .data(model.terms)
      .join('g')
      .attr('class', 'term')
      .attr('data-term', (t) => t.term)
      .attr('data-leader', (t) => t.leader ?? '');
    spans
      .selectAll('rect')
      .data((t) => [t])
      .join('rect')
      .attr('x', (t) => xOf(t.start) - pxPerLevel / 2)
      .attr('width', (t) => Math.max(2, (t.end - t.start) * pxPerLevel))
      .attr('y', 4)
      .attr('height', BAND_H - 8)
      .attr('fill', (t) => termColor(t.term))
      .attr('opacity', 0.55);
    spans
      .selectAll('text')
      .data((t) => [t])
      .join('text')
      .attr('x', (t) => {
        // Right of the term's first LeaderElected star when it is near the start, so the star does not cover it.
        const star = model.leaders.find((l) => l.term === t.term);
        const start = xOf(t.start) - pxPerLevel / 2 + 4;
        return star && xOf(star.level) - start < 120 ? xOf(star.level) + 10 : start;
      })
      .attr('y', BAND_H / 2 + 4)
      .attr('class', 'term-text')
      .text((t) => ((t.end - t.start) * pxPerLevel > 60 ? `term ${t.term}${t.leader ? `: ${t.leader}` : ''}` : `${t.term}`));
    spans
      .selectAll('title')
      .data((t) => [t])
      .join('title')
      .text((t) => `term ${t.term}${t.leader ? `, leader ${t.leader}` : ', no leader elected'}`);
    gBand
      .selectAll('path.leader-mark')
      .data(model.leaders)
      .join('path')
      .attr('class', 'leader-mark')
      .attr('data-leader-elected', (l) => `${l.server}:${l.term}`)
      .attr('d', d3.symbol(d3.symbolStar, 120)())
      .attr('transform', (l) => `translate(${xOf(l.level)},${BAND_H / 2})`)
      .on('click', (_ev, l) => select([l.event], l.event))
      .append('title')
      .text((l) => `${l.server} elected leader of term ${l.term}`);
    gEdges
      .selectAll('line')
      .data(model.edges.filter((e) => byId.has(e.from) && byId.has(e.to)))
      .join('line')
      .attr('class', (e) => `edge${e.unrecorded ? ' unrecorded' : ''}`)
      .attr('data-edge', (e) => `${e.from}>${e.to}`)
      .attr('data-unrecorded', (e) => (e.unrecorded ? 'true' : null))
      .attr('x1', (e) => xOf(byId.get(e.from)!.level))
      .attr('y1', (e) => yOf(byId.get(e.from)!.host))
      .attr('x2', (e) => xOf(byId.get(e.to)!.level))
      .attr('y2', (e) => yOf(byId.get(e.to)!.host))
      .attr('marker-end', 'url(#arrow)')
      .selectAll('title')
      .data((e) => [e])
      .join('title')
      .text((e) => {
        const from = byId.get(e.from)!;
        const to = byId.get(e.to)!;
        return e.unrecorded
          ? `an unrecorded ${to.tag.replace(/Recv$/, '')} (a heartbeat or its reply) carrying ${from.host}'s clock as of its ${from.tag} ${from.id} -> ${to.tag} ${to.id}`
          : `${from.tag} ${from.id} -> ${to.tag} ${to.id}`;
      });
    gEvents
      .selectAll('circle')
      .data(model.events)
      .join('circle')
      .attr('class', (e) => `event ${category(e.tag)}${e.tag === 'LeaderElected' ? ' elected' : ''}${e.tag === 'ServerStart' ? ' start' : ''}${cxTraceIds.has(e.traceId) ? ' cx' : ''}`)
      .attr('data-cx', (e) => (cxTraceIds.has(e.traceId) ? e.traceId : null))
      .attr('data-event', (e) => e.id)
      .attr('data-tag', (e) => e.tag)
      .attr('cx', (e) => xOf(e.level))
      .attr('cy', (e) => yOf(e.host))
      .attr('r', (e) => (e.tag === 'LeaderElected' || e.tag === 'ServerStart' ? 6 : 4))
      .attr('fill', (e) => TAG_COLOR[category(e.tag)])
      .on('click', (_ev, e) => select(e.traceId ? model.events.filter((x) => x.traceId === e.traceId).map((x) => x.id) : [e.id], e.id))
      .selectAll('title')
      .data((e) => [e])
      .join('title')
      .text((e) => `${e.tag}  ${e.id}  (trace.jsonl line ${e.line})${e.traceId ? `\ntrace id ${e.traceId}` : ''}\n${e.body}`);
  }
  let marked: { ids: Set<string>; primary: string | null } = { ids: new Set(), primary: null };
  function rezoom(f: number): void {
    const mid = (scroller.node()!.scrollLeft + scroller.node()!.clientWidth / 2 - PAD_L) / pxPerLevel;
    pxPerLevel = Math.min(64, Math.max(1, pxPerLevel * f));
    drawLanes();
    mark();
    scroller.node()!.scrollLeft = xOf(mid) - scroller.node()!.clientWidth / 2;
  }
  drawLanes();

  // ------------------------------------------------------------------ operations
  opsSec.append('h2').text('Client operations by key (history.json; ms after the first call)');
  const keys = [...new Set(model.ops.map((o) => o.key))];
  const cxKeys = new Set(model.counterexamples.map((c) => c.key));
  keys.sort((a, b) => Number(cxKeys.has(b)) - Number(cxKeys.has(a)) || a.localeCompare(b, 'en', { numeric: true }));
  const cxRole = new Map<string, string>();
  for (const cx of model.counterexamples) {
    for (const id of cx.ops) cxRole.set(id, 'member');
    cxRole.set(cx.culprit, 'culprit');
  }
  // Concurrent bars of one key go on tracks of their own (interval partitioning).
  const track = new Map<string, number>();
  const tracksOf = new Map<string, number>();
  for (const key of keys) {
    const ends: number[] = [];
    for (const o of model.ops.filter((x) => x.key === key).sort((a, b) => a.call - b.call)) {
      let t = ends.findIndex((end) => end < o.call);
      if (t < 0) t = ends.push(0) - 1;
      ends[t] = o.ret;
      track.set(o.id, t);
    }
    tracksOf.set(key, Math.max(1, ends.length));
  }
  const TRACK_H = 20;
  const rowY = new Map<string, number>();
  let y = 24;
  for (const key of keys) {
    rowY.set(key, y);
    y += tracksOf.get(key)! * TRACK_H + 8;
  }
  const opsWidth = Math.max(900, (document.getElementById('report')?.clientWidth ?? 1200) - 20);
  const tMax = d3.max(model.ops, (o) => o.ret) ?? 1;
  const x = d3.scaleLinear().domain([0, tMax]).range([LABEL_W, opsWidth - 20]);
  const opsBox = opsSec.append('div').attr('class', 'ops-scroll');
  const opsSvg = opsBox.append('svg').attr('id', 'ops-svg').attr('width', opsWidth).attr('height', y + 10);
  const gAxis = opsSvg.append('g').attr('transform', 'translate(0,20)').call(d3.axisTop(x).ticks(10));
  const gKeys = opsSvg.append('g');
  gKeys
    .selectAll('text')
    .data(keys)
    .join('text')
    .attr('class', (k) => `key-label${cxKeys.has(k) ? ' cx' : ''}`)
    .attr('data-key', (k) => k)
    .attr('x', 4)
    .attr('y', (k) => rowY.get(k)! + 14)
    .text((k) => (k.length > 16 ? `${k.slice(0, 15)}…` : k));
  const gBars = opsSvg.append('g');
  const bars = gBars
    .selectAll('g.op')
    .data(model.ops)
    .join('g')
    .attr('class', (o) => `op ${o.outcome}${cxRole.has(o.id) ? ` cx ${cxRole.get(o.id)}` : ''}`)
    .attr('data-op', (o) => o.id)
    .attr('data-key', (o) => o.key)
    .attr('data-cx', (o) => cxRole.get(o.id) ?? null)
    .on('click', (_ev, o) => selectOp(o.id));
  const placeBars = (sx: d3.ScaleLinear<number, number>) => {
    bars
      .select('rect')
      .attr('x', (o) => sx(o.call))
      .attr('width', (o) => Math.max(2, sx(o.ret) - sx(o.call)));
    // A label goes inside its bar when it fits; a counterexample's bars are labelled beside them when not.
    const fits = (o: ReportOp) => sx(o.ret) - sx(o.call) > `${o.input} → ${o.output}`.length * 6.2;
    bars
      .select('text')
      .attr('x', (o) => (fits(o) ? sx(o.call) + 3 : sx(o.ret) + 4))
      .text((o) => (fits(o) || cxRole.has(o.id) ? `${o.input} → ${o.output}` : ''));
  };
  bars
    .append('rect')
    .attr('y', (o) => rowY.get(o.key)! + track.get(o.id)! * TRACK_H)
    .attr('height', TRACK_H - 4)
    .attr('rx', 3);
  bars
    .append('text')
    .attr('class', 'op-text')
    .attr('y', (o) => rowY.get(o.key)! + track.get(o.id)! * TRACK_H + 12);
  // A counterexample's bars (and their labels) above the others.
  bars.filter((o) => cxRole.has(o.id)).raise();
  bars.append('title').text((o) => `${o.traceId} ${o.input} -> ${o.output}\ncall +${o.call.toFixed(3)} ms, return +${o.ret.toFixed(3)} ms (${o.outcome})`);
  placeBars(x);
  // Zoom and pan the time axis (wheel, drag); bars keep their rows.
  opsSvg.call(
    d3
      .zoom<SVGSVGElement, unknown>()
      .scaleExtent([1, 10_000])
      .translateExtent([
        [0, 0],
        [opsWidth, y],
      ])
      .filter((ev: Event) => ev.type !== 'wheel' || (ev as WheelEvent).ctrlKey || (ev as WheelEvent).shiftKey)
      .on('zoom', (ev: d3.D3ZoomEvent<SVGSVGElement, unknown>) => {
        const sx = ev.transform.rescaleX(x);
        gAxis.call(d3.axisTop(sx).ticks(10));
        placeBars(sx);
      }),
  );
  opsSec.append('p').attr('class', 'hint').text('Shift+wheel or drag to zoom and pan the time axis; click a bar to see its events in the lanes. Green: ok, grey: failed (changed nothing), yellow: error, outcome unknown; outlined: a counterexample, red: its unexplained result.');

  // ------------------------------------------------------------------ selection
  /** Rings the selected events (the primary one in red); drawLanes re-applies it after a rescale. */
  function mark(): void {
    gEvents.selectAll<SVGCircleElement, ReportEvent>('circle').classed('hl', false).classed('primary', false).attr('data-highlighted', null);
    gEvents
      .selectAll<SVGCircleElement, ReportEvent>('circle')
      .filter((e) => marked.ids.has(e.id))
      .classed('hl', true)
      .classed('primary', (e) => e.id === marked.primary)
      .attr('data-highlighted', 'true')
      .raise();
  }

  function select(ids: string[], primary: string | null, title?: string, extra: string[] = []): void {
    marked = { ids: new Set(ids), primary };
    mark();
    const target = primary && byId.has(primary) ? byId.get(primary)! : ids.map((id) => byId.get(id)).find((e) => e !== undefined);
    const lines: string[] = [...extra];
    if (target) {
      const node = scroller.node()!;
      node.scrollLeft = xOf(target.level) - node.clientWidth / 2;
      lanesSec.node()!.scrollIntoView({ block: 'nearest' });
      lines.unshift(`${target.tag} ${target.id}  trace.jsonl line ${target.line}${target.traceId ? `  trace id ${target.traceId}` : ''}`, target.body);
    } else if (primary) {
      lines.unshift(`${primary} is not drawn: it lies past the events this page draws (see the note at the top).`);
    }
    showDetails(title ?? (target ? `${target.tag} ${target.id}` : 'selection'), lines);
  }

  function selectOp(id: string): void {
    const op = opById.get(id);
    bars.classed('selected', (o) => o.id === id);
    if (!op) return;
    const ids = model.events.filter((e) => e.traceId === op.traceId).map((e) => e.id);
    const start = model.events.find((e) => e.traceId === op.traceId && /Start$/.test(e.tag));
    select(ids, start?.id ?? ids[0] ?? null, `${op.traceId} ${op.input} -> ${op.output}`, [`call +${op.call.toFixed(3)} ms, return +${op.ret.toFixed(3)} ms (${op.outcome}); ${ids.length} events in the lanes`]);
  }
}
