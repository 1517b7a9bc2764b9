// A process that has a lab up and is signalled (the test runner's SIGTERM at a
// file's time limit, a person's Ctrl-C) takes its namespaces and processes
// down before it exits. Before, the namespaces stayed until the next run of the
// same prefix (seen: xlt-* left after a killed lab.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec.js';
import { Lab } from '../lab.js';

const PREFIX = 'xls';
const CHILD = join(import.meta.dirname, 'lab-signal-child.ts');
const STATE = process.env.XLNET_LAB_STATE ?? '/run/xlnet-lab';

const mine = async () => (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${PREFIX}-`));

test.after(async () => { await Lab.down(PREFIX).catch(() => undefined); });

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`${sig} to a process with a lab up removes the lab, then the process exits as the signal says`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, PREFIX], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 120_000;
    while (!out.includes('READY') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.ok(out.includes('READY'), `the lab did not come up:\n${out}`);
    assert.ok((await mine()).length >= 5, 'the lab has its namespaces');
    child.kill(sig);
    const code = await exited;
    assert.is(code, 128 + (sig === 'SIGTERM' ? 15 : 2), out);
    assert.equal(await mine(), [], `namespaces left after ${sig}`);
    assert.not.ok(existsSync(join(STATE, PREFIX)), 'the lab state directory is gone');
    assert.not.ok(existsSync(join(STATE, `${PREFIX}.owner`)), 'the prefix claim is given up');
  });
}

test.run();
