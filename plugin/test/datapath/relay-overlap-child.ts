// Child of relay-overlap.test.ts, run inside the test's network namespace:
// listens on the TUN address, splices the connection tcpcraft makes into the
// kernel relay (source) towards a loopback receiver (target), runs tcpcraft,
// and prints one JSON line: what the receiver got and the verdict's numbers.
//   node --import tsx relay-overlap-child.ts CGROUP TUN LOCAL_IP REMOTE_IP PORT TCPCRAFT
import net from 'node:net';
import { execFile } from 'node:child_process';
import * as libc from '../../src/ffi/libc.js';
import { enterCgroup, loadDatapath } from '../../src/datapath/index.js';
import { fdOf } from '../../src/service/socket-fd.js';
import { unsplice } from '../../src/service/kernel-relay.js';

const [cgroup, tun, peerIp, ownIp, portS, tcpcraft] = process.argv.slice(2);
const port = Number(portS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const streamByte = (i: number) => (i * 131 + (i >>> 8)) & 0xff; // tcpcraft's stream

enterCgroup(cgroup!, process.pid);
const dp = await loadDatapath({ cgroup: cgroup! });
const out: Record<string, unknown> = {};
try {
  if (!dp.relayAvailable) throw new Error(`relay not available: ${dp.relayError}`);
  let got = 0, bad = -1, eof = false;
  const R = net.createServer((r) => {
    r.on('data', (d: Buffer) => {
      for (let k = 0; k < d.length && bad < 0; k++) if (d[k] !== streamByte(got + k)) bad = got + k;
      got += d.length;
    });
    r.on('end', () => { eof = true; });
  });
  await new Promise<void>((r) => R.listen(0, '127.0.0.1', r));
  let S: net.Socket | undefined;
  const L = net.createServer({ pauseOnConnect: true }, (s) => { S = s; });
  await new Promise<void>((r) => L.listen(port, ownIp, r));
  dp.registerSocket(fdOf(L), { attachment: 9, profile: 0 });
  const craft = new Promise<string>((resolve) => {
    execFile(tcpcraft!, [tun!, peerIp!, ownIp!, String(port)], { timeout: 30_000 }, (_e, stdout) => resolve(stdout));
  });
  for (let i = 0; !S && i < 5000; i++) await sleep(1);
  if (!S) throw new Error(`no connection from tcpcraft: ${await craft}`);
  const w = libc.tcpSocket(4);
  dp.registerSocket(w, { attachment: 9, profile: 0 });
  libc.connectStart(w, '127.0.0.1', (R.address() as net.AddressInfo).port);
  while (libc.tcpInfo(w).state !== libc.TCP_ESTABLISHED) await sleep(1);
  const s = libc.dup(fdOf(S));
  const cs = libc.socketCookie(s), cw = libc.socketCookie(w);
  dp.relaySetCtl(cs, { peer: cw, limit: 1 << 30, baseAcked: dp.flow(cw)!.bytesAcked, forwarded: 0 });
  for (const which of ['targets', 'sources'] as const) { dp.relayInsert(which, cs, s); dp.relayInsert(which, cw, w); }
  out.spliced_before_data = libc.tcpInfo(s).bytes_received === 0;
  out.tcpcraft = JSON.parse((await craft).trim() || '{}');
  // The FIN is passed to user space (never redirected): the relay forwards it, here by hand.
  for (let i = 0; i < 100 && got < 65000; i++) await sleep(20);
  libc.shutdown(w, libc.SHUT_WR);
  for (let i = 0; i < 100 && !eof; i++) await sleep(20);
  out.received = got;
  out.first_bad = bad;
  out.stat = dp.relayStat(cs);
  for (const c of [cs, cw]) unsplice(dp, c);
  libc.close(s); libc.close(w);
  S.destroy(); R.close(); L.close();
} catch (e) {
  out.error = (e as Error).message;
} finally {
  dp.close();
}
console.log(JSON.stringify(out));
process.exit(0);
