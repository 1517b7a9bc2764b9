// `xlnet top` on a real terminal (tmux): it redraws, q quits with 0, and a
// daemon that goes away ends it with 3. The daemon side is a canned protocol
// server, so these are formatting tests of the live view.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusInfo } from '../../src/daemon/protocol.js';
import { MAIN, REPO, cannedServer, tempDir } from './helpers.js';

// A tmux server of this test's own, its socket in a temp dir removed at the end.
const TMUX = tempDir('xlnet-tmux-');
const TMUX_SOCKET = join(TMUX.dir, 'tmux.sock');
const tmux = (...args: string[]): string => {
  const r = spawnSync('tmux', ['-S', TMUX_SOCKET, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const screen = (): string => tmux('capture-pane', '-p', '-J', '-t', 'top');

async function waitFor(what: RegExp | (() => boolean), timeoutMs = 20_000): Promise<string> {
  const t0 = Date.now();
  let s = '';
  while (Date.now() - t0 < timeoutMs) {
    s = screen();
    if (what instanceof RegExp ? what.test(s) : what()) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never saw ${String(what)}; screen:\n${s}`);
}

let served = 0;
function status(): StatusInfo {
  served++;
  return {
    version: '0.1.0', protocol: 1, pid: 77, uptimeSec: 5, listenPort: 1, configFile: '/x', attachments: 1, flows: 1,
    flowsTotal: served, bytesUp: 0, bytesDown: 0, memory: { rss: 0, heapUsed: 0, bufferedBytes: 0 }, profiles: ['default'],
  };
}

test('formatting: top on a terminal redraws every interval and q quits with 0', async () => {
  const { dir, cleanup } = tempDir('xlnet-top-');
  const srv = await cannedServer(dir, {
    status: () => ({ result: status() }),
    list: { result: [{ vif: 'vif3.0', id: 1, mode: 'bridge', bridge: 'xenbr0', profile: 'default', options: {}, state: 'active', attachedAt: '', flows: 1, bytesUp: 0, bytesDown: 0, flowsTotal: 1, flowsRefused: 0 }] },
    flows: { result: [] },
  });
  const done = join(dir, 'exit-code');
  tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '30',
    `cd ${REPO} && ${process.execPath} --import tsx ${MAIN} top --interval 0.2 --socket ${srv.socket}; echo $? > ${done}; sleep 600`);
  try {
    const first = await waitFor(/flows 1 open, \d+ total/);
    assert.match(first, /^vif3\.0 +- +bridge +xenbr0 +default +active/m);
    const n = Number(/flows 1 open, (\d+) total/.exec(first)![1]);
    await waitFor(() => Number(/flows 1 open, (\d+) total/.exec(screen())?.[1] ?? 0) >= n + 2);
    tmux('send-keys', '-t', 'top', 'q');
    await waitFor(() => existsSync(done));
    assert.is(readFileSync(done, 'utf8').trim(), '0');
    assert.not.match(screen(), /flows 1 open/, 'the alternate screen is left on quit');
  } finally {
    spawnSync('tmux', ['-S', TMUX_SOCKET, 'kill-server']);
    await srv.close();
    cleanup();
  }
});

test('formatting: top ends with exit 3 when the daemon goes away', async () => {
  const { dir, cleanup } = tempDir('xlnet-top-');
  const srv = await cannedServer(dir, { status: () => ({ result: status() }), list: { result: [] }, flows: { result: [] } });
  const done = join(dir, 'exit-code');
  tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '30',
    `cd ${REPO} && ${process.execPath} --import tsx ${MAIN} top --interval 0.2 --socket ${srv.socket} 2>${join(dir, 'err')}; echo $? > ${done}; sleep 600`);
  try {
    await waitFor(/no vifs attached/);
    await srv.close();
    await waitFor(() => existsSync(done), 30_000);
    assert.is(readFileSync(done, 'utf8').trim(), '3');
    assert.ok(readFileSync(join(dir, 'err'), 'utf8').includes('xlnetd'));
  } finally {
    spawnSync('tmux', ['-S', TMUX_SOCKET, 'kill-server']);
    cleanup();
  }
});

test.after(() => TMUX.cleanup());
test.run();
