/**
 * Print-time shortening of offender text. Rules keep their full messages and details
 * (a JSON dump or a test sees everything); the report shortens what it prints:
 *
 * - a quoted (JSON) string longer than MAX_RUN characters keeps its first PREFIX
 *   characters: `"aaaa…" (60,000 chars)`, the length being the value's;
 * - a comma-separated list of more than MAX_ITEMS items (an mget's keys, a JSON array,
 *   mput pairs) keeps its first SHOWN_ITEMS: `k1, k2, k3, k4, k5, ... and 142 more`
 *   (a quoted string that is such a list, e.g. a multi-key mget's `"k1,k2,..."`, has
 *   its list shortened first);
 * - any other run without spaces longer than MAX_RUN is cut the same way as a string;
 * - a whole printed line still longer than MAX_LINE is cut: `... … (123,456 chars)`,
 *   the length being the unshortened text's.
 */

export const MAX_RUN = 120;
export const PREFIX = 60;
export const MAX_ITEMS = 8;
export const SHOWN_ITEMS = 5;
export const MAX_LINE = 400;

const QUOTED = /"(?:[^"\\\n]|\\.)*"/g;
// Placeholders for quoted strings while lists and runs are shortened: \u0000 never
// appears in a message (JSON.stringify escapes it), and it is neither space nor comma.
const HOLE = /\u0000(\d+)\u0000/g;
// An item: characters that are not separators (placeholders count as item characters),
// matched atomically ((?=(x+))\1 never gives characters back) and only from an item's
// first character, so a long run without commas costs linear time, not quadratic.
const C = String.raw`[^\s,()\[\]{}"]`;
const LIST = new RegExp(String.raw`(?<!${C})(?=(${C}+))\1(?:, ?(?=(${C}+))\2){${MAX_ITEMS},}`, 'g');
const RUN = new RegExp(String.raw`[^\s]{${MAX_RUN + 1},}`, 'g');

const count = (n: number) => `${n.toLocaleString('en-US')} chars`;

/** Cuts `s` to at most `n` UTF-16 units without splitting a surrogate pair or a JSON escape. */
function cut(s: string, n: number, json = false): string {
  let out = s.slice(0, n);
  if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  if (json) {
    out = out.replace(/\\u[0-9a-fA-F]{0,3}$/, '');
    const slashes = /\\+$/.exec(out)?.[0].length ?? 0;
    if (slashes % 2 === 1) out = out.slice(0, -1);
  }
  return out;
}

function shortQuoted(literal: string): string {
  const raw = literal.slice(1, -1);
  if (raw.length <= MAX_RUN) return literal;
  // A string that is a long list (a multi-key mget's key "k1,k2,..."): shorten the list.
  const inner = raw.replace(LIST, (list) => shortList(list));
  if (inner.length <= MAX_RUN) return `"${inner}"`;
  let length = inner.length;
  try {
    length = (JSON.parse(literal) as string).length;
  } catch {
    // Not valid JSON (e.g. a quote in prose): count its characters as printed.
  }
  return `"${cut(inner, PREFIX, true)}…" (${count(length)})`;
}

function shortList(list: string): string {
  const sep = list.match(/, ?/)![0];
  const items = list.split(/, ?/);
  if (items.length <= MAX_ITEMS) return list;
  return `${items.slice(0, SHOWN_ITEMS).join(sep)}${sep}... and ${items.length - SHOWN_ITEMS} more`;
}

/** Shortens long quoted values, long lists and long runs in one line of text. */
export function shortenText(text: string): string {
  const quoted: string[] = [];
  let s = text.replace(QUOTED, (q) => `\u0000${quoted.push(shortQuoted(q)) - 1}\u0000`);
  s = s.replace(LIST, (list) => shortList(list));
  s = s.replace(RUN, (run) => {
    // Measure a run by what it prints as, holes filled.
    const printed = run.replace(HOLE, (_, i: string) => quoted[Number(i)]);
    if (printed.length <= MAX_RUN) return run;
    return `${cut(printed, PREFIX)}… (${count(printed.length)})`;
  });
  return s.replace(HOLE, (_, i: string) => quoted[Number(i)]);
}

/** Caps a printed line at `max` characters (suffix included), noting its full length. */
export function capLine(line: string, max = MAX_LINE, fullLength = line.length): string {
  if (line.length <= max) return line;
  const suffix = `… (${count(fullLength)})`;
  return `${cut(line, max - suffix.length)}${suffix}`;
}

/** shortenText, then capLine: how the report prints offender messages and details. */
export function shortenLine(text: string, max = MAX_LINE): string {
  return capLine(shortenText(text), max, text.length);
}
