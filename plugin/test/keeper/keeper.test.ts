// The keeper as a real process: it holds a socket copy while its client is
// gone (the peer sees nothing), gives it back to the next client with the
// bytes that arrived meanwhile, and lets everything go when told.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeeperClient } from '../../src/keeper/keeper-client.js';
import { socketPair } from '../service/loopback.js';

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'xlnet-keeper-'));
const path = join(dir, 'keeper.sock');
let keeper: ChildProcess;


test.before(async () => {
  keeper = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/keeper/main.ts'),
    '--socket', path, '--grace', '30', '--cgroup', 'none'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(25);
});

test.after(() => {
  keeper.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('a held socket outlives its owner and comes back with the bytes that arrived meanwhile', async () => {
  const { client, server, srv } = await socketPair();
  const first = await KeeperClient.open(path, { graceSec: 30 });
  assert.equal(first.hello.held, []);
  await first.keeper.keep([{ name: 'flow/1/guest', fd: fdOf(server), meta: { id: 1 } }]);
  server.destroy(); // our fd is gone: the keeper's copy keeps the connection
  let peerSaw = '';
  client.on('end', () => { peerSaw = 'end'; });
  client.on('error', (e: NodeJS.ErrnoException) => { peerSaw = e.code ?? 'error'; });
  client.write('kept while nobody reads');
  // The client leaves without 'bye' (as a killed xlnetd does).
  first.keeper['sock'].destroy();
  await sleep(200);
  assert.is(peerSaw, '', 'the peer saw no end and no reset');
  const second = await KeeperClient.open(path, { graceSec: 30 });
  const held = second.hello.held.find((h) => h.name === 'flow/1/guest');
  assert.ok(held, JSON.stringify(second.hello.held));
  assert.equal(held!.meta, { id: 1 });
  const back = new net.Socket({ fd: second.keeper.take(held!.fd), readable: true, writable: true, allowHalfOpen: true });
  const got = await new Promise<string>((r) => back.once('data', (d) => r(d.toString())));
  assert.is(got, 'kept while nobody reads');
  back.write('and answered');
  const answer = await new Promise<string>((r) => client.once('data', (d) => r(d.toString())));
  assert.is(answer, 'and answered');
  // Dropped by the keeper, closed by us: the connection ends normally.
  await second.keeper.drop(['flow/1/guest']);
  back.end();
  await new Promise((r) => client.once('end', r));
  client.destroy();
  back.destroy();
  srv.close();
  await second.keeper.bye(false);
});

test('bye without handover: the keeper closes what it holds, writes its clean-up files and exits', async () => {
  // The previous test's bye ended that keeper: start another.
  keeper = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/keeper/main.ts'),
    '--socket', path, '--grace', '30', '--cgroup', 'none'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(25);
  const { client, server, srv } = await socketPair();
  const { keeper: k } = await KeeperClient.open(path, { graceSec: 30 });
  await k.keep([{ name: 'flow/2/guest', fd: fdOf(server) }]);
  server.destroy();
  const marker = join(dir, 'restored');
  await k.cleanup({ argv: [], files: [{ path: marker, value: '0\n' }] });
  const ended = new Promise<string>((r) => {
    client.on('end', () => r('end'));
    client.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
  });
  client.resume();
  await k.bye(false);
  assert.ok(['end', 'ECONNRESET'].includes(await ended), 'the held socket was closed');
  assert.is(readFileSync(marker, 'utf8'), '0\n');
  const exited = await new Promise<number | null>((r) => (keeper.exitCode !== null ? r(keeper.exitCode) : keeper.once('exit', (c) => r(c))));
  assert.is(exited, 0);
  client.destroy();
  srv.close();
});

test.run();
