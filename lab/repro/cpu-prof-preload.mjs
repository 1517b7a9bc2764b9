// Preload (NODE_OPTIONS=--import this file, XLNET_CPU_PROF_DIR=DIR): profiles
// the process from start and writes DIR/<pid>.cpuprofile on SIGUSR2.
// (`--cpu-prof` itself is not allowed in NODE_OPTIONS.)
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const dir = process.env.XLNET_CPU_PROF_DIR;
if (dir) {
  const s = new Session();
  s.connect();
  s.post('Profiler.enable', () => s.post('Profiler.setSamplingInterval', { interval: 200 }, () => s.post('Profiler.start')));
  process.on('SIGUSR2', () => {
    s.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(`${dir}/${process.pid}.cpuprofile`, JSON.stringify(res.profile));
    });
  });
}
