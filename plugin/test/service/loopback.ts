// Real sockets over loopback for SplitConnection and the flow table, without
// namespaces: a "listener" standing in for the transparent listener (paused
// accepted sockets, half-open allowed, as service/listener.ts makes them), a
// guest client connecting to it, and a remote server. The guest's address
// given to the SplitConnection is another loopback address (127.0.0.x), so the
// WAN leg binds it the way it binds a guest's address in Dom0, and the remote
// sees that address. Binding it takes IP_TRANSPARENT: run as root, as the
// suite does.
import net from 'node:net';
import type { Endpoint } from '../../src/service/split-connection.js';

export interface Remote {
  server: net.Server;
  port: number;
  /** server-side sockets, in accept order */
  accepted: net.Socket[];
  next(): Promise<net.Socket>;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that hands its sockets to the test (half-open allowed). */
export async function remoteServer(): Promise<Remote> {
  const accepted: net.Socket[] = [];
  const waiting: Array<(s: net.Socket) => void> = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted.push(s);
    s.on('error', () => undefined);
    waiting.shift()?.(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let seen = 0;
  return {
    server, port: (server.address() as net.AddressInfo).port, accepted,
    next: () => (accepted.length > seen ? Promise.resolve(accepted[seen++]!) : new Promise((r) => waiting.push((s) => { seen++; r(s); }))),
    close: () => new Promise((r) => { for (const s of accepted) s.destroy(); server.close(() => r()); }),
  };
}

export interface GuestPair {
  /** the guest's end (what a guest's TCP stack would hold) */
  client: net.Socket;
  /** the accepted, paused guest leg a SplitConnection takes */
  guestLeg: net.Socket;
  /** the guest's endpoint as the SplitConnection is told it (127.0.0.x, the client's port) */
  guest: Endpoint;
}

let nextGuestIp = 10;

/** A guest connection through a stand-in for the transparent listener. */
export async function guestPair(guestIp?: string): Promise<GuestPair> {
  const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => undefined);
  const guestLeg = await accepted;
  listener.close();
  await new Promise((r) => (client.localPort ? r(undefined) : client.once('connect', r)));
  const ip = guestIp ?? `127.0.0.${nextGuestIp++}`;
  return { client, guestLeg, guest: { ip, port: client.localPort! } };
}

/** Resolves with everything the socket reads until its end, or rejects with its error code. */
export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(e.code ?? e.message), { code: e.code })));
  });
}

/** The error code a socket ends with ('end' for a clean end). */
export function endOf(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.once('end', () => resolve('end'));
    s.once('close', () => resolve('close'));
    s.resume();
  });
}

export async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain connected pair over 127.0.0.1: the server side paused, half-open allowed on both. */
export async function socketPair(): Promise<{ client: net.Socket; server: net.Socket; srv: net.Server }> {
  let server: net.Socket | undefined;
  const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => { server = s; });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => client.once('connect', r));
  while (!server) await new Promise((r) => setTimeout(r, 2));
  return { client, server, srv };
}
