import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** A program running in a pseudo-terminal that a test can type into and read. */
export interface Pty {
  readonly kind: 'tmux' | 'script';
  /** Types text literally (no Enter). */
  type(text: string): void;
  enter(): void;
  /** The screen as text (tmux: exactly the visible rows; script: the last frame drawn). */
  screen(): string;
  /** The program's exit code once it has exited, else null. */
  exitCode(): number | null;
  /** Ends the pty and anything still running in it. */
  close(): void;
}

export function which(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Which pty tool this machine has: tmux (a real screen) first, else util-linux script. */
export function ptyTool(): 'tmux' | 'script' | null {
  const forced = process.env.RAFTKV_PTY;
  if (forced === 'none') return null;
  if (forced === 'tmux' || forced === 'script') return which(forced) ? forced : null;
  if (which('tmux')) return 'tmux';
  if (which('script')) return 'script';
  return null;
}

export interface PtyOptions {
  /** argv of the program. */
  argv: string[];
  cwd: string;
  cols: number;
  rows: number;
  /** A scratch directory for the tool's own files. */
  dir: string;
}

export function startPty(kind: 'tmux' | 'script', opts: PtyOptions): Pty {
  return kind === 'tmux' ? tmuxPty(opts) : scriptPty(opts);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A private tmux server (its own socket, no user config) with one window of exactly
 * cols x rows: the status line is off, and a pane whose program exits stays, so its
 * exit code and last screen can be read.
 */
function tmuxPty(opts: PtyOptions): Pty {
  const socket = `raftkv-e2e-${process.pid}-${Date.now().toString(36)}`;
  const conf = path.join(opts.dir, 'tmux.conf');
  writeFileSync(conf, 'set -g status off\nset -g remain-on-exit on\nset -g history-limit 100\n');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  const command = `cd ${shellQuote(opts.cwd)} && exec ${opts.argv.map(shellQuote).join(' ')}`;
  tmux('-f', conf, 'new-session', '-d', '-s', 'e2e', '-x', String(opts.cols), '-y', String(opts.rows), command);
  // The command execs the program, so the pane's pid is the program's: killed by pid at close.
  const programPid = Number(tmux('display-message', '-p', '-t', 'e2e', '#{pane_pid}').trim());
  let closed = false;
  return {
    kind: 'tmux',
    type: (text) => void tmux('send-keys', '-t', 'e2e', '-l', text),
    enter: () => void tmux('send-keys', '-t', 'e2e', 'Enter'),
    screen: () => tmux('capture-pane', '-p', '-t', 'e2e'),
    exitCode() {
      const [dead, status] = tmux('display-message', '-p', '-t', 'e2e', '#{pane_dead} #{pane_dead_status}').trim().split(' ');
      return dead === '1' ? Number(status || 0) : null;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
      // kill-server only hangs up on the program; one that does not exit must not outlive the test.
      try {
        if (programPid > 0) process.kill(programPid, 'SIGKILL');
      } catch {
        // exited, as it should have
      }
    },
  };
}

/**
 * util-linux script(1) gives the program a pty whose size is set with stty. There is no
 * screen to capture, so screen() is the text of the last frame in the output stream
 * (ink redraws the whole frame, header first, on each update).
 */
function scriptPty(opts: PtyOptions): Pty {
  const command = `stty cols ${opts.cols} rows ${opts.rows}; cd ${shellQuote(opts.cwd)} && exec ${opts.argv.map(shellQuote).join(' ')}`;
  const child: ChildProcess = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.stdin!.on('error', () => undefined);
  let code: number | null = null;
  child.once('exit', (c, signal) => (code = c ?? (signal ? 128 : 1)));
  return {
    kind: 'script',
    type: (text) => void child.stdin!.write(text),
    enter: () => void child.stdin!.write('\r'),
    screen() {
      const text = out
        .replace(/\u001B\][^\u0007]*\u0007/g, '')
        .replace(/\u001B\[[0-9;]*m/g, '')
        .replace(/\u001B\[[0-9;?<>=]*[A-Za-z]/g, '\n')
        .replace(/\u001B[()][A-Za-z0-9]/g, '')
        .replace(/\r/g, '');
      const start = text.lastIndexOf('RaftKV  ');
      return start >= 0 ? text.slice(start) : text;
    },
    exitCode: () => code,
    close() {
      if (code === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}
