import { Box, Text, useInput, type Key } from 'ink';
import { useRef, useState } from 'react';
import type { Completion } from './commands.ts';

interface CommandLineProps {
  onSubmit(line: string): void;
  complete(line: string): Completion;
  onEscape?(): void;
  /** Ctrl-C (and Ctrl-D on an empty line). */
  onInterrupt?(): void;
  width: number;
  /** Lines submitted earlier, oldest first (e.g. from a previous session). */
  initialHistory?: string[];
  isActive?: boolean;
}

interface LineState {
  value: string;
  cursor: number;
  history: string[];
  /** Position in history while browsing with Up/Down; history.length = the draft. */
  histPos: number;
  draft: string;
  /** Completion candidates, or a hint, under the line. */
  hint: string;
}

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};

/** Control characters found inside a chunk of input, as the keys they stand for. */
const CONTROL_KEYS: Record<string, { input: string; key: Partial<Key> }> = {
  '\r\n': { input: '', key: { return: true } },
  '\r': { input: '', key: { return: true } },
  '\n': { input: '', key: { return: true } },
  '\t': { input: '', key: { tab: true } },
  '\u007f': { input: '', key: { backspace: true } },
  '\b': { input: '', key: { backspace: true } },
  '\u0001': { input: 'a', key: { ctrl: true } },
  '\u0003': { input: 'c', key: { ctrl: true } },
  '\u0005': { input: 'e', key: { ctrl: true } },
  '\u000b': { input: 'k', key: { ctrl: true } },
  '\u0015': { input: 'u', key: { ctrl: true } },
  '\u0017': { input: 'w', key: { ctrl: true } },
};

const KEYS_HINT = 'Tab completes · Up/Down history · help · quit (or Ctrl-C)';

/**
 * The prompt: editing (Left/Right, Home/End, Ctrl-A/E/U/W, Backspace), history with
 * Up/Down, Tab completion. Pasted text with newlines runs one command per line.
 */
export function CommandLine({ onSubmit, complete, onEscape, onInterrupt, width, initialHistory = [], isActive = true }: CommandLineProps) {
  // The state lives in a ref so keys that arrive between two renders see each other's effect.
  const ref = useRef<LineState>({ value: '', cursor: 0, history: [...initialHistory], histPos: initialHistory.length, draft: '', hint: KEYS_HINT });
  const [, rerender] = useState(0);
  const set = (patch: Partial<LineState>) => {
    ref.current = { ...ref.current, ...patch };
    rerender((n) => n + 1);
  };

  const submit = () => {
    const s = ref.current;
    const line = s.value;
    const history = line.trim() !== '' && s.history[s.history.length - 1] !== line ? [...s.history, line].slice(-500) : s.history;
    set({ value: '', cursor: 0, history, histPos: history.length, draft: '', hint: KEYS_HINT });
    onSubmit(line);
  };

  const insert = (text: string) => {
    const s = ref.current;
    set({ value: s.value.slice(0, s.cursor) + text + s.value.slice(s.cursor), cursor: s.cursor + text.length, hint: s.hint === KEYS_HINT ? s.hint : KEYS_HINT });
  };

  const tab = () => {
    const s = ref.current;
    if (s.cursor !== s.value.length) return set({ cursor: s.value.length });
    const c = complete(s.value);
    set({ value: c.line, cursor: c.line.length, hint: c.options.length > 0 ? c.options.join('  ') : c.line === s.value ? 'nothing to complete' : KEYS_HINT });
  };

  const handle = (input: string, key: Key) => {
    const s = ref.current;
    if (key.ctrl && (input === 'c' || (input === 'd' && s.value === ''))) return onInterrupt?.();
    if (key.return) return submit();
    if (key.escape) {
      if (s.value !== '') set({ value: '', cursor: 0, hint: KEYS_HINT });
      return onEscape?.();
    }
    if (key.tab) return tab();
    if (key.upArrow) {
      if (s.histPos === 0) return;
      const draft = s.histPos === s.history.length ? s.value : s.draft;
      const value = s.history[s.histPos - 1];
      return set({ histPos: s.histPos - 1, draft, value, cursor: value.length });
    }
    if (key.downArrow) {
      if (s.histPos >= s.history.length) return;
      const pos = s.histPos + 1;
      const value = pos === s.history.length ? s.draft : s.history[pos];
      return set({ histPos: pos, value, cursor: value.length });
    }
    if (key.leftArrow) return set({ cursor: Math.max(0, s.cursor - 1) });
    if (key.rightArrow) return set({ cursor: Math.min(s.value.length, s.cursor + 1) });
    if (key.home || (key.ctrl && input === 'a')) return set({ cursor: 0 });
    if (key.end || (key.ctrl && input === 'e')) return set({ cursor: s.value.length });
    if (key.ctrl && input === 'u') return set({ value: s.value.slice(s.cursor), cursor: 0 });
    if (key.ctrl && input === 'k') return set({ value: s.value.slice(0, s.cursor) });
    if (key.ctrl && input === 'w') {
      const before = s.value.slice(0, s.cursor).replace(/\S+\s*$/, '');
      return set({ value: before + s.value.slice(s.cursor), cursor: before.length });
    }
    // Terminals send DEL (0x7f) for Backspace, which ink reports as `delete`: both erase left.
    if (key.backspace || key.delete) {
      if (s.cursor === 0) return;
      return set({ value: s.value.slice(0, s.cursor - 1) + s.value.slice(s.cursor), cursor: s.cursor - 1 });
    }
    if (key.ctrl || key.meta || input === '') return;
    // Typed or pasted text. Keys sent quickly arrive together ("put k v\r"), so control
    // characters inside it act as their keys: Enter submits, Tab completes, and so on.
    for (const part of input.split(/(\r\n|[\u0000-\u001f\u007f])/)) {
      if (part === '') continue;
      const ctrl = CONTROL_KEYS[part];
      if (ctrl) handle(ctrl.input, { ...NO_KEY, ...ctrl.key });
      else if (!/^[\u0000-\u001f\u007f]$/.test(part)) insert(part);
    }
  };

  useInput(
    (input, key) => {
      try {
        handle(input, key);
      } catch (err) {
        set({ hint: `input error: ${(err as Error).message}` });
      }
    },
    { isActive },
  );

  const { value, cursor, hint } = ref.current;
  // Keep the cursor in view on a long line: show a window of the text around it.
  const room = Math.max(10, width - 3);
  const start = Math.max(0, Math.min(cursor - room + 1, value.length - room + 1));
  const visible = value.slice(start, start + room);
  const at = cursor - start;
  return (
    <Box flexDirection="column" width={width} flexShrink={0}>
      <Text wrap="truncate-end">
        <Text color="cyan" bold>
          {'> '}
        </Text>
        {visible.slice(0, at)}
        <Text inverse>{visible[at] ?? ' '}</Text>
        {visible.slice(at + 1)}
      </Text>
      <Text dimColor wrap="truncate-end">
        {hint}
      </Text>
    </Box>
  );
}
