import { createElement as h } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Completion } from '../../src/tui/commands.ts';
import { fixture, waitFor } from './fakes.ts';

// Colors on, so "errors in red" can be checked: chalk reads this when ink first loads it.
process.env.FORCE_COLOR = '1';
let lib: typeof import('ink-testing-library');
let ui: {
  App: typeof import('../../src/tui/app.tsx').App;
  ClusterPanel: typeof import('../../src/tui/cluster-panel.tsx').ClusterPanel;
  ResultsPane: typeof import('../../src/tui/results-pane.tsx').ResultsPane;
  CommandLine: typeof import('../../src/tui/command-line.tsx').CommandLine;
  HelpView: typeof import('../../src/tui/help-view.tsx').HelpView;
};
beforeAll(async () => {
  lib = await import('ink-testing-library');
  ui = {
    ...(await import('../../src/tui/app.tsx')),
    ...(await import('../../src/tui/cluster-panel.tsx')),
    ...(await import('../../src/tui/results-pane.tsx')),
    ...(await import('../../src/tui/command-line.tsx')),
    ...(await import('../../src/tui/help-view.tsx')),
  };
});
afterEach(() => lib.cleanup());

type Rendered = ReturnType<typeof import('ink-testing-library').render>;

const ANSI = /\u001B\[[0-9;]*m/g;
const plain = (r: Rendered) => (r.lastFrame() ?? '').replace(ANSI, '');
const RED = '\u001B[31m';

/** Waits until the screen (colors stripped) matches; the error shows the last screen. */
async function screen(r: Rendered, want: string | RegExp): Promise<string> {
  const hit = () => (typeof want === 'string' ? plain(r).includes(want) : want.test(plain(r)));
  await waitFor(hit, () => `${String(want)} on screen; last screen:\n${plain(r)}`);
  return plain(r);
}

/** Waits until ink listens for keys (useInput has mounted). */
async function ready(r: Rendered): Promise<void> {
  await waitFor(() => r.stdin.listenerCount('readable') > 0, 'ink to listen on stdin');
}

async function keys(r: Rendered, ...chunks: string[]): Promise<void> {
  for (const c of chunks) {
    r.stdin.write(c);
    // Let ink process this chunk before the next one, as a person's keystrokes would.
    await new Promise((res) => setImmediate(res));
  }
}

const KEY = { enter: '\r', tab: '\t', up: '\u001B[A', down: '\u001B[B', left: '\u001B[D', right: '\u001B[C', backspace: '\u007F', ctrlU: '\u0015', ctrlC: '\u0003', escape: '\u001B' };

describe('ClusterPanel', () => {
  it('shows each server with role, term, indexes, contact and state, the leader starred', async () => {
    const f = fixture();
    f.cluster.states.set('server2', 'down');
    await f.controller.pollOnce();
    const snap = f.controller.getSnapshot();
    const r = lib.render(h(ui.ClusterPanel, { rows: snap.rows, leaderId: 'server1', width: 80 }));
    const text = await screen(r, 'server2');
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/server\s+role\s+term\s+commit\s+applied\s+snap\s+log\s+contact\s+state/);
    expect(lines[2]).toMatch(/^│ {3}server0\s+follower\s+2\s+5\s+5\s+0\s+5\s+42ms\s+up\s+│$/);
    expect(lines[3]).toMatch(/^│ \* server1\s+leader\s+2\s+5\s+5\s+0\s+5\s+-\s+up\s+│$/);
    expect(lines[4]).toMatch(/^│ {3}server2\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+down\s+│$/);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    expect(r.lastFrame()).toContain(RED); // the down server
  });
});

describe('ClusterPanel: membership', () => {
  it('shows learners with progress, removed servers and C_old voters, within 80 columns', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    await f.controller.run('add server5 127.0.0.1:7105');
    await f.controller.run('add learner10 127.0.0.1:7110 --learner');
    await f.controller.run('remove server2');
    f.cluster.others.set('server5', 'up');
    f.cluster.commit = 10;
    f.cluster.match.set('server5', 8);
    f.cluster.match.set('learner10', 10);
    f.cluster.joint = true;
    f.cluster.members[0].outgoing = true;
    await f.controller.pollOnce();
    const snap = f.controller.getSnapshot();
    const r = lib.render(h(ui.ClusterPanel, { rows: snap.rows, leaderId: 'server1', width: 79 }));
    const text = await screen(r, 'learner10');
    const lines = text.split('\n');
    expect(lines[2]).toMatch(/^│ {3}server0\s+follower \(old\)\s+2\s+10\s+10\s+0\s+10\s+42ms\s+up\s+│$/);
    expect(lines[4]).toMatch(/^│ {3}server2\s+removed\s+2\s+10/);
    expect(lines[5]).toMatch(/^│ {3}server5\s+learner 80%\s+2\s+10\s+10\s+0\s+10\s+42ms\s+up\s+│$/);
    expect(lines[6]).toMatch(/^│ {3}learner10\s+learner 100%\s+-\s+-\s+-\s+-\s+-\s+-\s+no answe │$/); // 8 columns for state at 80 wide
    expect(lines.every((l) => l.length <= 80)).toBe(true);
  });
});

describe('ResultsPane', () => {
  it('shows opId, value, server and latency, and errors in red', async () => {
    const f = fixture();
    await f.controller.run('put k1 hello');
    await f.controller.run('get nothing');
    await f.controller.run('incr k1');
    await f.controller.run('mget k1 nothing');
    const r = lib.render(h(ui.ResultsPane, { results: f.controller.getSnapshot().results, height: 10, width: 79 }));
    const text = await screen(r, 'mget');
    expect(text).toMatch(/opId\s+command\s+value\s+server\s+latency/);
    expect(text).toMatch(/ {4}1 {2}put k1 hello\s+hello\s+server1\s+3\.3 ms/);
    expect(text).toMatch(/ {4}2 {2}get nothing\s+\(empty\)\s+server1/);
    expect(text).toMatch(/ {4}3 {2}incr k1\n {7}error: incr: the value of "k1" is not a base-10 integer \[server1, 3\.3\n {7}ms\]/);
    expect(text).toMatch(/ {4}4 {2}mget k1 nothing\s+k1=hello nothing=\(empty\)/);
    const errorLine = (r.lastFrame() ?? '').split('\n').find((l) => l.includes('incr k1'))!;
    expect(errorLine).toContain(RED);
  });

  it('keeps the newest entries that fit', async () => {
    const f = fixture();
    for (let i = 0; i < 30; i++) await f.controller.run(`put k${i} v${i}`);
    const r = lib.render(h(ui.ResultsPane, { results: f.controller.getSnapshot().results, height: 5, width: 79 }));
    const text = await screen(r, 'put k29');
    expect(text).not.toContain('put k24 ');
    expect(text).toContain('put k25 ');
    expect(text.split('\n')).toHaveLength(6);
  });
});

describe('HelpView', () => {
  it('lists every command', async () => {
    const r = lib.render(h(ui.HelpView, { launched: false, width: 79 }));
    const text = await screen(r, 'Keys:');
    for (const c of ['get <key>', 'put <key> <value>', 'del <key>', 'incr <key>', 'expire <key> <seconds>', 'mget <key>...', 'mput <key>=<value>...', 'leader', 'kill <server>', 'restart <server>', 'pause <server>', 'resume <server>', 'partition <server>', 'heal', 'trace', 'quit', 'members', 'add <id> <host:port>', 'promote <server>', 'remove <server>', 'transfer [<server>]', '--learner']) {
      expect(text).toContain(c);
    }
    expect(text).toContain('Attached: kill, restart, pause, resume, partition, heal are not available.');
    expect(text.split('\n').every((l) => l.length <= 79)).toBe(true);
  });
});

describe('CommandLine', () => {
  function line(opts: { complete?: (l: string) => Completion } = {}) {
    const submitted: string[] = [];
    let escapes = 0;
    let interrupts = 0;
    const r = lib.render(
      h(ui.CommandLine, {
        width: 79,
        onSubmit: (l: string) => submitted.push(l),
        complete: opts.complete ?? ((l: string) => ({ line: l, options: [] })),
        onEscape: () => escapes++,
        onInterrupt: () => interrupts++,
      }),
    );
    return { r, submitted, escapes: () => escapes, interrupts: () => interrupts };
  }

  it('submits what was typed and clears the line', async () => {
    const { r, submitted } = line();
    await ready(r);
    await keys(r, 'put k1 hello');
    await screen(r, '> put k1 hello');
    await keys(r, KEY.enter);
    await waitFor(() => submitted.length === 1, 'a submit');
    expect(submitted).toEqual(['put k1 hello']);
    // ink renders the cleared line on its next frame, which may come after the submit.
    await screen(r, /^>\s*(\n|$)/);
  });

  it('edits: backspace, left/right, Ctrl-U', async () => {
    const { r, submitted } = line();
    await ready(r);
    await keys(r, 'get k', 'x', KEY.backspace, '1');
    await screen(r, '> get k1');
    await keys(r, KEY.left, KEY.left, 'e');
    await screen(r, '> get ek1');
    await keys(r, KEY.right, KEY.right, '2', KEY.enter);
    await waitFor(() => submitted.length === 1, 'a submit');
    expect(submitted).toEqual(['get ek12']);
    await keys(r, 'junk', KEY.ctrlU, 'leader', KEY.enter);
    await waitFor(() => submitted.length === 2, 'a second submit');
    expect(submitted[1]).toBe('leader');
  });

  it('recalls history with Up and Down, keeping the draft', async () => {
    const { r, submitted } = line();
    await ready(r);
    await keys(r, 'get a', KEY.enter, 'get b', KEY.enter, 'dra');
    await waitFor(() => submitted.length === 2, 'two submits');
    await keys(r, KEY.up);
    await screen(r, '> get b');
    await keys(r, KEY.up);
    await screen(r, '> get a');
    await keys(r, KEY.up);
    await screen(r, '> get a');
    await keys(r, KEY.down);
    await screen(r, '> get b');
    await keys(r, KEY.down);
    await screen(r, /^> dra/);
    await keys(r, KEY.up, KEY.up, KEY.enter);
    await waitFor(() => submitted.length === 3, 'a third submit');
    expect(submitted).toEqual(['get a', 'get b', 'get a']);
  });

  it('completes with Tab and shows the choices', async () => {
    const { complete } = await import('../../src/tui/commands.ts');
    const { r, submitted } = line({ complete: (l) => complete(l, ['server0', 'server1']) });
    await ready(r);
    await keys(r, 'ki', KEY.tab);
    await screen(r, '> kill ');
    await keys(r, KEY.tab);
    await screen(r, 'server0  server1');
    await screen(r, '> kill server');
    await keys(r, '1', KEY.tab, KEY.enter);
    await waitFor(() => submitted.length === 1, 'a submit');
    expect(submitted).toEqual(['kill server1 ']);
  });

  it('runs each line of a paste; Escape and Ctrl-C reach their handlers', async () => {
    const { r, submitted, escapes, interrupts } = line();
    await ready(r);
    await keys(r, 'put a 1\rput b 2\r');
    await waitFor(() => submitted.length === 2, 'two submits');
    expect(submitted).toEqual(['put a 1', 'put b 2']);
    await keys(r, KEY.escape);
    await waitFor(() => escapes() === 1, 'an escape');
    await keys(r, KEY.ctrlC);
    await waitFor(() => interrupts() === 1, 'an interrupt');
  });
});

describe('App', () => {
  /** The App on an 80x24 terminal. */
  async function app(launched = true) {
    const f = fixture({ launched });
    const r = lib.render(h(ui.App, { controller: f.controller, subtitle: 'test' }));
    Object.defineProperty(r.stdout, 'columns', { value: 80, configurable: true });
    Object.defineProperty(r.stdout, 'rows', { value: 24, configurable: true });
    r.stdout.emit('resize');
    f.controller.startPolling(20);
    await screen(r, 'leader server1 (term 2)');
    await ready(r);
    return { f, r };
  }
  afterEach(() => undefined);

  it('fits 80x24 and runs a put and a get typed on the command line', async () => {
    const { f, r } = await app();
    await keys(r, 'put k1 hello', KEY.enter);
    await screen(r, /1 {2}put k1 hello\s+hello\s+server1/);
    await keys(r, 'get k1', KEY.enter);
    const text = await screen(r, /2 {2}get k1\s+hello\s+server1\s+3\.3 ms/);
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^RaftKV {2}3\/3 up {2}leader server1 \(term 2\) {2}launched: test/);
    f.controller.stopPolling();
  });

  it('shows bad input as a red error and keeps going', async () => {
    const { f, r } = await app();
    await keys(r, 'frobnicate now', KEY.enter);
    await screen(r, 'error: unknown command "frobnicate"');
    expect((r.lastFrame() ?? '').split('\n').find((l) => l.includes('frobnicate'))).toContain(RED);
    await keys(r, '"""', KEY.enter, '\u0000\u0007', KEY.enter, 'kill server7', KEY.enter);
    await screen(r, 'unknown server "server7"');
    await keys(r, 'put k v', KEY.enter);
    await screen(r, /put k v\s+v\s+server1/);
    f.controller.stopPolling();
  });

  it('kills the leader from the UI and shows the new one', async () => {
    const { f, r } = await app();
    await keys(r, 'kill server1', KEY.enter);
    await screen(r, 'killed server1 (kill -9); it was the leader');
    const text = await screen(r, 'leader server0 (term 3)');
    expect(text).toMatch(/server1\s+-\s+2\s+5\s+5\s+\d+\s+\d+\s+-\s+down/);
    f.controller.stopPolling();
  });

  it('attached: kill is refused with a clear message', async () => {
    const { f, r } = await app(false);
    await keys(r, 'kill server1', KEY.enter);
    await screen(r, 'not available: this UI did not launch the cluster');
    expect(f.cluster.calls).toEqual([]);
    f.controller.stopPolling();
  });

  it('shows a joint configuration in the header and counts members only', async () => {
    const { f, r } = await app();
    f.cluster.joint = true;
    let text = await screen(r, 'joint (C_old,new)');
    expect(text.split('\n')[0]).toMatch(/^RaftKV {2}3\/3 up {2}leader server1 \(term 2\) {2}joint \(C_old,new\) {2}launched: test/);
    f.cluster.joint = false;
    await keys(r, 'remove server2', KEY.enter);
    await screen(r, 'removed server2');
    text = await screen(r, /^RaftKV {2}2\/2 up {2}leader server1/);
    expect(text).not.toContain('joint');
    f.controller.stopPolling();
  });

  it('a server added from the command line gets a row on the panel, and it still fits 80x24', async () => {
    const { f, r } = await app();
    f.cluster.others.set('server5', 'up');
    await keys(r, 'add server5 127.0.0.1:7105', KEY.enter);
    await screen(r, 'added server5 (127.0.0.1:7105) as a learner; promoted once caught up');
    const text = await screen(r, /server5\s+learner 0%\s+2\s+6/);
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    f.controller.stopPolling();
  });

  it('help opens the help view; Escape closes it', async () => {
    const { f, r } = await app();
    await keys(r, 'help', KEY.enter);
    const text = await screen(r, 'RaftKV terminal UI - help');
    expect(text).toContain('partition <server>');
    // The last lines too: the help box is cut at the terminal's height.
    expect(text).toContain('transfer [<server>]');
    expect(text).toContain('add ... --learner: it stays a learner until promote.');
    expect(text).not.toContain('server0');
    expect(text).not.toMatch(/…/); // nothing cut at 80 columns
    expect(text.split('\n').length).toBeLessThanOrEqual(23);
    await keys(r, KEY.escape);
    await screen(r, 'server0');
    f.controller.stopPolling();
  });

  it('quit and Ctrl-C ask to quit', async () => {
    const { f, r } = await app();
    await keys(r, 'quit', KEY.enter);
    await waitFor(() => f.quits === 1, 'quit');
    await keys(r, KEY.ctrlC);
    await waitFor(() => f.quits === 2, 'Ctrl-C');
    await screen(r, 'quitting: stopping every process this UI started');
    f.controller.stopPolling();
  });
});
