// Preloaded into RaftKV server processes by `npm run bench -- --cpu-prof DIR`
// (NODE_OPTIONS=--import; node 20 does not allow --cpu-prof there): samples the process
// with the inspector's profiler and writes DIR/<pid>.cpuprofile when the process exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // In-thread inspector sessions answer synchronously, so this runs before exit completes.
    session.post('Profiler.stop', (err, res) => {
      if (!err && res?.profile) writeFileSync(path.join(dir, `${process.argv.includes('--id') ? process.argv[process.argv.indexOf('--id') + 1] : 'proc'}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
