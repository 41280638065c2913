/**
 * Characters that JSON.stringify leaves as they are but that NeDB's loader takes for
 * line ends: its line splitter (@seald-io/nedb lib/byline.js) splits on U+0085 (NEL),
 * U+2028 and U+2029 besides \n, \v, \f and \r (which JSON escapes). A value holding one
 * would cut its document's line in two at the next load, and the store would refuse to
 * open ("N% of the data file is corrupt"). They can only stand inside JSON strings, where
 * the escape `\uXXXX` means the same character, so every line written is escaped.
 */
const LINE_BREAKERS = /[\u0085\u2028\u2029]/g;
const ANY_LINE_BREAKER = /[\u0085\u2028\u2029]/;

/** `json` with U+0085, U+2028 and U+2029 written as `\u0085`, `\u2028`, `\u2029`: the same JSON value. */
export function escapeLineBreakers(json: string): string {
  return ANY_LINE_BREAKER.test(json) ? json.replace(LINE_BREAKERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/** True when `bytes` (UTF-8) hold U+0085 (C2 85), U+2028 (E2 80 A8) or U+2029 (E2 80 A9). */
export function hasLineBreakers(bytes: Buffer): boolean {
  for (let i = bytes.indexOf(0xc2); i >= 0; i = bytes.indexOf(0xc2, i + 1)) if (bytes[i + 1] === 0x85) return true;
  for (let i = bytes.indexOf(0xe2); i >= 0; i = bytes.indexOf(0xe2, i + 1)) if (bytes[i + 1] === 0x80 && (bytes[i + 2] === 0xa8 || bytes[i + 2] === 0xa9)) return true;
  return false;
}
