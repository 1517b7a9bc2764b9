// A socket agent for the datapath tests: a process the test places in (or out
// of) the datapath's cgroup and in one of its network namespaces. It reads one
// JSON command per line on stdin and answers one JSON line on stdout. fd 3, when
// given, is the xlnet_sk map: the agent registers its own sockets through it,
// as xlnetd does. Run: ip netns exec NS node --import tsx agent.ts
import net from 'node:net';
import { createInterface } from 'node:readline';
import * as libc from '../../src/ffi/libc.js';
import * as bpf from '../../src/ffi/libbpf.js';
import { encodeSk, fdKey, decodeSk, SIZES } from '../../src/datapath/layout.js';

const SK_MAP_FD = 3;

interface Reg { attachment: number; profile: number }
type Cmd =
  | { op: 'connect'; host: string; port: number; register?: Reg }
  | { op: 'listen'; host: string; port: number; register?: Reg; reply: number }
  | { op: 'write'; id: number; bytes: number }
  | { op: 'finish'; id: number }
  | { op: 'state'; id: number }
  | { op: 'exit' };

const socks = new Map<number, { s: net.Socket; fd: number }>();
let nextId = 1;

function register(fd: number, r?: Reg): void {
  if (r) bpf.mapUpdate(SK_MAP_FD, fdKey(fd), encodeSk(r.attachment, r.profile));
}

/** A net.Socket made from a connecting fd emits no 'connect': poll TCP_INFO. */
async function established(fd: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const state = libc.tcpInfo(fd).state;
    if (state === libc.TCP_ESTABLISHED) return;
    if (state !== libc.TCP_SYN_SENT) throw new Error(`connect failed: so_error ${libc.getInt(fd, libc.SOL_SOCKET, libc.SO_ERROR)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('connect timed out');
}

async function run(c: Cmd): Promise<unknown> {
  switch (c.op) {
    case 'connect': {
      const fd = libc.tcpSocket(4);
      register(fd, c.register);
      libc.connectStart(fd, c.host, c.port);
      await established(fd);
      const s = new net.Socket({ fd, readable: true, writable: true });
      const id = nextId++;
      socks.set(id, { s, fd });
      return { id, localPort: s.localPort };
    }
    case 'listen': {
      const fd = libc.tcpSocket(4);
      libc.setInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1);
      libc.bind(fd, c.host, c.port);
      register(fd, c.register);
      libc.listen(fd, 64);
      // Each accepted connection: read to EOF, then answer `reply` bytes and end.
      const srv = net.createServer({ allowHalfOpen: true }, (s) => {
        s.resume();
        s.on('end', () => s.end(Buffer.alloc(c.reply, 0x5a)));
        s.on('error', () => {});
      });
      await new Promise<void>((resolve) => srv.listen({ fd }, resolve));
      return { listening: true };
    }
    case 'write': {
      // Queue `bytes` (the callback runs once the kernel took them).
      const { s } = socks.get(c.id)!;
      await new Promise<void>((resolve, reject) => s.write(Buffer.alloc(c.bytes, 0xa5), (e) => (e ? reject(e) : resolve())));
      return { written: c.bytes };
    }
    case 'finish': {
      // Half-close, read the answer to EOF; the socket then closes.
      const { s } = socks.get(c.id)!;
      let received = 0;
      s.on('data', (d: Buffer) => { received += d.length; });
      const done = new Promise<void>((resolve, reject) => { s.once('end', resolve); s.once('error', reject); });
      s.end();
      await done;
      await new Promise<void>((resolve) => { s.once('close', () => resolve()); s.destroy(); });
      return { received };
    }
    case 'state': {
      const { fd } = socks.get(c.id)!;
      const b = bpf.mapLookup(SK_MAP_FD, fdKey(fd), SIZES.sk);
      const st = b && decodeSk(b);
      return st ? { ...st, cookie: st.cookie?.toString() } : null;
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return { bye: true };
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  run(JSON.parse(line) as Cmd).then(
    (r) => process.stdout.write(`${JSON.stringify({ ok: r })}\n`),
    (e: Error) => process.stdout.write(`${JSON.stringify({ error: e.message })}\n`),
  );
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: process.pid })}\n`);
