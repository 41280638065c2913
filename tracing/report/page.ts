import { drawReport } from './draw.ts';
import type { ReportModel } from './model.ts';

/**
 * The report as one HTML file that needs nothing else: its style, d3's bundle, the model
 * as JSON and the drawing code (draw.ts's source text) are all inline.
 */
export function renderPage(model: ReportModel, d3Source: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(model.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main id="report"></main>
<script>${inlineScript(d3Source)}</script>
<script type="application/json" id="report-model">${inlineJson(model)}</script>
<script>
// Bundlers that keep function names (tsx, esbuild's keepNames) call __name(fn, "name") inside the code below.
var __name = function (f) { return f; };
(${inlineScript(drawReport.toString())})(JSON.parse(document.getElementById('report-model').textContent));
</script>
</body>
</html>
`;
}

/** Code inside a <script> element: only `</script` could end it early (d3's bundle and draw.ts hold none; this keeps it so). */
function inlineScript(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1');
}

/** Data inside a <script> element: every `<` as \u003c, which JSON reads back as `<`, so no value (a key, a body) can end or change the element. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const STYLE = `
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fbfbfa; }
main { padding: 8px 16px 40px; }
h1 { font-size: 18px; margin: 6px 0; }
h2 { font-size: 15px; margin: 18px 0 6px; }
.verdict { font-weight: 600; padding: 3px 8px; display: inline-block; border-radius: 4px; margin: 2px 0; }
.verdict.ok { background: #dff3e4; color: #1e6b35; } .verdict.fail { background: #fbe0e0; color: #9b1c1c; }
.meta { color: #666; margin: 2px 0; } .note { background: #fff6d6; padding: 3px 8px; margin: 3px 0; border-left: 3px solid #e0b000; }
table.rules { border-collapse: collapse; width: 100%; }
table.rules td, table.rules th { border-bottom: 1px solid #e4e4e4; padding: 3px 6px; text-align: left; vertical-align: top; }
table.rules tr.pass .status { color: #1e6b35; } table.rules tr.skip .status { color: #8a6d00; }
table.rules tr.fail .status { color: #fff; background: #c53030; font-weight: 600; }
.rule-name { white-space: nowrap; font-family: ui-monospace, monospace; } .rule-note { color: #666; }
ol.offenders { margin: 2px 0; padding-left: 20px; }
li.offender { margin: 2px 0; font-family: ui-monospace, monospace; font-size: 12px; }
li.linked, li.cx-line { cursor: pointer; } li.linked:hover, li.cx-line:hover { background: #eef4ff; }
li.offender .where { color: #2d5fb0; }
pre.offender-details { margin: 2px 0 4px; color: #555; white-space: pre-wrap; }
.counterexample { border: 2px solid #c53030; border-radius: 6px; padding: 4px 10px; background: #fff4f4; margin-bottom: 8px; }
.counterexample ol { font-family: ui-monospace, monospace; font-size: 12px; }
li.cx-line.culprit { color: #c53030; font-weight: 600; }
.controls { margin: 4px 0; } .controls button { margin-right: 4px; }
.legend { margin-left: 14px; color: #555; } .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-left: 6px; }
.lane-frame { display: flex; border: 1px solid #ddd; background: #fff; }
.lane-labels { flex: none; border-right: 1px solid #ddd; }
.lane-label { font-family: ui-monospace, monospace; font-size: 12px; } .lane-label.client { fill: #1e6b35; } .band-label { font-size: 11px; fill: #666; }
.lane-scroll { overflow-x: auto; flex: 1; }
line.lane { stroke: #c8c8c8; } line.lane.client { stroke-dasharray: 4 3; }
line.edge { stroke: #9a9a9a; stroke-width: 1; opacity: 0.7; }
circle.event { stroke: #fff; stroke-width: 1; cursor: pointer; }
circle.event.start { stroke: #333; stroke-width: 1.5; }
circle.event.cx { stroke: #c53030; stroke-width: 2; }
circle.event.hl { stroke: #111; stroke-width: 2.5; r: 7px; }
circle.event.primary { stroke: #e00000; stroke-width: 3.5; r: 9px; }
.leader-mark { fill: #ffd400; stroke: #7a5c00; cursor: pointer; }
.term-text { font-size: 11px; fill: #222; pointer-events: none; }
.ops-scroll { max-height: 560px; overflow-y: auto; border: 1px solid #ddd; background: #fff; }
g.op { cursor: pointer; } g.op rect { fill: #9fd8b1; stroke: #4f9a68; }
g.op.failed rect { fill: #d6d6d6; stroke: #999; } g.op.unknown rect { fill: #ffe28a; stroke: #c49a00; }
g.op.cx rect { stroke: #c53030; stroke-width: 2.5; } g.op.culprit rect { fill: #f19a9a; stroke: #9b1c1c; stroke-width: 3; }
g.op.selected rect { stroke: #111; stroke-width: 3; }
.op-text { font-size: 11px; pointer-events: none; } g.op.cx .op-text { paint-order: stroke; stroke: #fff; stroke-width: 3px; font-weight: 600; } .key-label { font-family: ui-monospace, monospace; font-size: 12px; } .key-label.cx { fill: #c53030; font-weight: 600; }
.hint { color: #666; }
#details { position: fixed; right: 12px; bottom: 12px; width: 460px; max-height: 45vh; overflow: auto; background: #fff; border: 1px solid #999; box-shadow: 0 2px 10px rgba(0,0,0,.2); padding: 6px 10px; font-size: 12px; }
#details h3 { margin: 2px 0 4px; font-size: 13px; } #details pre { white-space: pre-wrap; word-break: break-all; margin: 0; }
#details .close { float: right; border: none; background: none; font-size: 16px; cursor: pointer; }
`;
