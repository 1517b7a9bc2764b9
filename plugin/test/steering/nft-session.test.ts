// NftSession attached to an `nft -i` another process runs (the keeper's):
// output left over from before is skipped, commands are confirmed or refused
// one by one, and the session's end is noticed. Real nft, private netns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as libc from '../../src/ffi/libc.js';
import { NftError, NftSession } from '../../src/steering/nft-session.js';

test('attach: stale output skipped, commands confirmed and refused in order, the end noticed', async () => {
  const [inR, inW] = libc.pipe();
  const [errR, errW] = libc.pipe();
  const nft = spawn('unshare', ['-n', 'nft', '-i'], { stdio: [inR, 'ignore', errW] });
  libc.close(inR);
  libc.close(errW);
  // What the keeper wrote while no xlnetd listened: a failing batch.
  libc.write(inW, Buffer.from('delete table inet nosuchtable\n'));
  const s = new NftSession();
  let ended = '';
  s.onExit = (why) => { ended = why; };
  s.attach(libc.dup(inW), libc.dup(errR));
  await s.run('add table inet xlt { flags owner; }');
  await s.run('add chain inet xlt c');
  const bad = await s.run('add rule inet xlt nosuchchain accept').then(() => undefined, (e: Error) => e);
  assert.instance(bad, NftError);
  await s.atomically(['add chain inet xlt d', 'add rule inet xlt d accept']);
  libc.close(inW);
  libc.close(errR);
  await s.close();
  nft.kill();
  await new Promise((r) => nft.once('exit', r));
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(ended.length > 0 || !s.alive);
});

test.run();
