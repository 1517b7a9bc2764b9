// One lab per prefix at a time, across processes: on a shared machine two
// runs of the same suite must take turns, not tear down each other's
// namespaces half way through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Lab, REPO } from '../lab.js';
import { run, sleep, waitFor } from '../exec.js';

const PREFIX = 'hs2';

test('a second Lab.up of a prefix in use waits until the first lab is down, and leaves it alone meanwhile', async () => {
  const first = await Lab.up({ prefix: PREFIX, link: 'lan' });
  let out = '';
  const second = spawn(process.execPath, ['--import', 'tsx', '-e',
    `import { Lab } from ${JSON.stringify(join(REPO, 'lab/lab.ts'))};
     const lab = await Lab.up({ prefix: '${PREFIX}', link: 'lan' });
     console.log('second up');
     await lab.down();`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  second.stdout.on('data', (d) => { out += String(d); });
  second.stderr.on('data', (d) => { out += String(d); });
  try {
    await sleep(4000);
    assert.not.match(out, 'second up', 'the second lab came up while the first held the prefix');
    const ns = await run(['ip', 'netns', 'list']);
    assert.match(ns.stdout, `${PREFIX}-dom0`, 'the first lab\'s namespaces are still there');
    await first.down();
    await waitFor('the second lab to come up and go', () => second.exitCode !== null, 60_000);
    assert.is(second.exitCode, 0, out);
    assert.match(out, 'second up');
  } finally {
    second.kill();
    await first.down().catch(() => undefined);
  }
});

test.run();
