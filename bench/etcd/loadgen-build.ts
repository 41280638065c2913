import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt, trackPids } from '../cleanup.ts';

/** What to install (Debian/Ubuntu) for the rows driven by etcd's Go client. */
export const GO_LOADGEN_INSTALL_HINT = 'apt-get install golang-go golang-etcd-server-dev   (Debian/Ubuntu: the Go toolchain and etcd\'s client source in /usr/share/gocode)';

/** The load generator's source directory (one Go file, package main). */
export const LOADGEN_SRC = fileURLToPath(new URL('./loadgen/', import.meta.url));

/** Where Debian's golang-*-dev packages put Go sources (GOPATH layout). */
const DEBIAN_GOPATH = '/usr/share/gocode';
/** etcd 3.4's client package, relative to a GOPATH entry. */
const CLIENT_PKG = 'src/go.etcd.io/etcd/clientv3';
/** Bound on one build (a cold build on 2 busy cores takes ~20-60 s). */
const BUILD_TIMEOUT_MS = 300_000;

interface GoToolchain {
  go: string;
  /** e.g. "go1.19.8". */
  version: string;
  /** The GOPATH entry holding go.etcd.io/etcd/clientv3. */
  gopath: string;
  /** etcd's version in that source tree (version/version.go), e.g. "3.4.23". */
  clientVersion: string;
}

/**
 * The Go toolchain ($GO_BIN, else `go` on PATH) and a GOPATH entry holding etcd's client
 * source ($GOPATH's entries, then /usr/share/gocode), or why not. BENCH_NO_GO=1 pretends
 * Go is absent (to exercise the skip path).
 */
export function findGoToolchain(): GoToolchain | { go: null; reason: string } {
  if (process.env.BENCH_NO_GO === '1') return { go: null, reason: 'BENCH_NO_GO=1 (pretending Go is not installed)' };
  const candidates = process.env.GO_BIN ? [process.env.GO_BIN] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'go'));
  let go: string | null = null;
  let version = '';
  for (const bin of candidates) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      continue;
    }
    const r = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000 });
    const v = /go version (go\S+)/.exec(r.stdout ?? '')?.[1];
    if (r.status === 0 && v) {
      go = bin;
      version = v;
      break;
    }
  }
  if (!go) return { go: null, reason: 'the Go toolchain (go) is not installed' };
  const roots = [...(process.env.GOPATH ?? '').split(path.delimiter).filter(Boolean), DEBIAN_GOPATH];
  const gopath = roots.find((r) => existsSync(path.join(r, CLIENT_PKG, 'client.go')));
  if (!gopath) return { go: null, reason: `etcd's Go client source (go.etcd.io/etcd/clientv3) is not in ${roots.join(' or ')}` };
  const versionGo = readText(path.join(gopath, 'src/go.etcd.io/etcd/version/version.go'));
  const clientVersion = /\bVersion\s*=\s*"([^"]+)"/.exec(versionGo)?.[1] ?? 'unknown';
  return { go, version, gopath, clientVersion };
}

/** A built load generator. */
export interface GoLoadgen {
  bin: string;
  goVersion: string;
  clientVersion: string;
  /** False when a cached binary (same source, toolchain and client source) was reused. */
  built: boolean;
  /** Wall time of the build (0 when cached), ms. */
  buildMs: number;
}

/**
 * Builds bench/etcd/loadgen once per (source, Go version, etcd client version): offline, in
 * GOPATH mode (GO111MODULE=off, GOPROXY=off, CGO_ENABLED=0) against the client source that
 * findGoToolchain found, with GOCACHE and the binary under `<cacheRoot>/raftkv-bench-go/`.
 * A cached binary is reused. Resolves { bin: null, reason } when Go or the client source is
 * missing or the build fails (the reason ends with the compiler's last lines); never throws
 * for those. `log` gets one progress line before a build.
 */
export async function buildLoadgen(cacheRoot: string, log: (line: string) => void): Promise<GoLoadgen | { bin: null; reason: string }> {
  const tc = findGoToolchain();
  if (tc.go === null) return { bin: null, reason: tc.reason };
  const dir = path.join(cacheRoot, 'raftkv-bench-go');
  const hash = createHash('sha256');
  hash.update(readFileSync(path.join(LOADGEN_SRC, 'main.go')));
  hash.update(`${tc.version} ${tc.gopath} ${tc.clientVersion} ${process.platform}-${process.arch}`);
  const bin = path.join(dir, `loadgen-${hash.digest('hex').slice(0, 16)}`);
  const found = { goVersion: tc.version, clientVersion: tc.clientVersion };
  if (isExecutable(bin)) return { bin, ...found, built: false, buildMs: 0 };

  mkdirSync(path.join(dir, 'gopath'), { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  log(`building the etcd load generator (bench/etcd/loadgen, ${tc.version}, etcd clientv3 ${tc.clientVersion} from ${tc.gopath}; offline, once per source change; a cold build takes ~20-60 s) ...`);
  const t0 = Date.now();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dir,
    GO111MODULE: 'off',
    GOPATH: [path.join(dir, 'gopath'), tc.gopath].join(path.delimiter),
    GOCACHE: path.join(dir, 'gocache'),
    GOENV: 'off',
    GOFLAGS: '',
    GOPROXY: 'off',
    CGO_ENABLED: '0',
  };
  const r = await runBounded(tc.go, ['build', '-o', tmp, '.'], { cwd: LOADGEN_SRC, env }, BUILD_TIMEOUT_MS);
  if (r.code !== 0 || !isExecutable(tmp)) {
    rmSync(tmp, { force: true });
    const tail = r.output.trim().split('\n').slice(-8).join('\n');
    return { bin: null, reason: `building bench/etcd/loadgen failed (${r.timedOut ? `timed out after ${BUILD_TIMEOUT_MS / 1000} s` : `exit ${r.code}`}):\n${tail}` };
  }
  renameSync(tmp, bin); // atomic: a concurrent bench or test sees the whole binary or none
  return { bin, ...found, built: true, buildMs: Date.now() - t0 };
}

function isExecutable(f: string): boolean {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readText(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** Runs a command to its end with its output collected, killed after `timeoutMs` or on Ctrl-C. */
function runBounded(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }, timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = trackPids(() => (child.pid === undefined ? [] : [child.pid]));
    const offInterrupt = onInterrupt(async () => {
      child.kill('SIGKILL');
    });
    let output = '';
    const take = (b: Buffer) => {
      output = (output + b.toString()).slice(-8000);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let settled = false;
    const done = (code: number | null, err?: Error) => {
      if (settled) return; // 'error' (spawn failed) may be followed by 'close'
      settled = true;
      clearTimeout(timer);
      untrack();
      offInterrupt();
      resolve({ code, output: err ? `${output}\n${err.message}` : output, timedOut });
    };
    child.once('error', (err) => done(null, err));
    child.once('close', (code) => done(code));
  });
}
