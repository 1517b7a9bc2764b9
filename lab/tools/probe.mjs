#!/usr/bin/env node
// Small TCP probes for lab tests (run inside a namespace with ip netns exec).
//   probe.mjs serve-reset PORT        accept, read the first bytes, answer with a RST
//   probe.mjs serve-echo PORT         echo everything; half-close when the peer does
//   probe.mjs connect HOST PORT [SEND [LPORT [LADDR]]] connect (from local port LPORT and address LADDR; 0 = any),
//                                      send SEND (default "hello"; @N = N bytes), half-close,
//                                      read to the end; print JSON {connected, received, error, local}
//   probe.mjs idle HOST PORT SECONDS  connect, send nothing, report how the connection ended
//   probe.mjs hold HOST PORT SECONDS [LPORT]  connect (from local port LPORT) and keep the
//                                      connection open, sending a line each second; print JSON
//                                      {connected, sent, echoed, error} at the end (error TIMEOUT
//                                      when the close did not complete 5 s after SECONDS)
//   probe.mjs serve-stall PORT        accept and never read (a remote whose window closes)
//   probe.mjs push HOST PORT SECONDS  connect, write without end (against serve-stall: a stalled
//                                      upload), after SECONDS print JSON {connected, written, error}
import net from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

/** SEND text, or @N for N bytes of 'x' (argv cannot carry large payloads). */
function payload(t) { return t.startsWith('@') ? Buffer.alloc(Number(t.slice(1)), 'x') : t; }

function out(o) { process.stdout.write(`${JSON.stringify(o)}\n`); }

if (mode === 'serve-stall') {
  const held = [];
  const srv = net.createServer({ pauseOnConnect: true }, (s) => { s.on('error', () => {}); held.push(s); });
  srv.listen(Number(a), '::', () => process.stdout.write('ready\n'));
} else if (mode === 'push') {
  const r = { connected: false, written: 0, error: null };
  const s = net.connect({ host: a, port: Number(b) });
  const chunk = Buffer.alloc(64 * 1024, 'p');
  const pump = () => { while (!s.destroyed && s.write(chunk)) r.written += chunk.length; if (!s.destroyed) r.written += chunk.length; };
  s.on('connect', () => { r.connected = true; pump(); });
  s.on('drain', pump);
  s.on('error', (e) => { r.error = e.code; });
  setTimeout(() => { out(r); process.exit(0); }, Number(c) * 1000);
} else if (mode === 'serve-reset' || mode === 'serve-echo') {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    if (mode === 'serve-reset') s.once('data', () => s.resetAndDestroy());
    else { s.pipe(s); }
  });
  srv.listen(Number(a), '::', () => process.stdout.write('ready\n'));
} else if (mode === 'connect') {
  const r = { connected: false, received: '', error: null, local: null };
  const lport = process.argv[6] ? Number(process.argv[6]) || undefined : undefined;
  const s = net.connect({ host: a, port: Number(b), allowHalfOpen: true, localPort: lport, localAddress: process.argv[7] });
  const timer = setTimeout(() => { r.error = 'TIMEOUT'; out(r); process.exit(0); }, 10_000);
  s.on('connect', () => { r.connected = true; r.local = `${s.localAddress}:${s.localPort}`; s.end(payload(c ?? 'hello')); });
  s.on('data', (d) => { r.received += d.toString(); });
  s.on('error', (e) => { r.error = e.code; });
  s.on('close', () => { clearTimeout(timer); out(r); });
} else if (mode === 'idle') {
  const r = { connected: false, error: null, closedAfterMs: null };
  const t0 = Date.now();
  const s = net.connect({ host: a, port: Number(b) });
  s.on('connect', () => { r.connected = true; });
  s.on('error', (e) => { r.error = e.code; });
  s.on('close', () => { r.closedAfterMs = Date.now() - t0; out(r); process.exit(0); });
  setTimeout(() => { out(r); process.exit(0); }, Number(c) * 1000);
} else if (mode === 'hold') {
  const r = { connected: false, sent: 0, echoed: 0, error: null };
  const lport = process.argv[6] ? Number(process.argv[6]) : undefined;
  const s = net.connect({ host: a, port: Number(b), localPort: lport });
  s.on('connect', () => {
    r.connected = true;
    const t = setInterval(() => { s.write(`line ${r.sent++}\n`); }, 1000);
    setTimeout(() => { clearInterval(t); s.end(); }, Number(c) * 1000);
  });
  s.on('data', (d) => { r.echoed += d.toString().split('\n').filter(Boolean).length; });
  s.on('error', (e) => { r.error = e.code; });
  s.on('close', () => { out(r); process.exit(0); });
  setTimeout(() => { r.error ??= 'TIMEOUT'; out(r); process.exit(0); }, (Number(c) + 5) * 1000);
} else {
  process.stderr.write('usage: probe.mjs serve-reset|serve-echo|serve-stall PORT | push HOST PORT SECONDS | connect HOST PORT [SEND [LPORT [LADDR]]] | hold HOST PORT SECONDS [LPORT] | idle HOST PORT SECONDS\n');
  process.exit(2);
}
