// A deliberately broken TCP relay, for checking that xfer catches what a
// faulty split-TCP proxy could do. It buffers one direction of the stream
// whole, damages it, then forwards it; the other direction passes as is.
//
//   node mangling-relay.mjs LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT MODE DIR OFFSET
//
// DIR: up (client->server) or down (server->client). OFFSET counts payload
// bytes (the 32-byte request header is skipped for up). MODE:
//   pass      forward unchanged (proves the relay itself is sound)
//   flip      invert one byte at OFFSET
//   drop      remove the byte at OFFSET
//   swap      exchange the 1000-byte blocks at OFFSET and OFFSET+1000
//   fullclose when the client half-closes, close both directions (breaks
//             half-close semantics)
// Prints "ready" once listening.
import net from 'node:net';

const [host, port, thost, tport, mode, dir, offsetText] = process.argv.slice(2);
const HEADER = 32; // xfer request header length, see README.md
const BLOCK = 1000;
const offset = Number(offsetText) + (dir === 'up' ? HEADER : 0);

function damage(buf) {
  const b = Buffer.from(buf);
  if (mode === 'flip') b[offset] ^= 0xff;
  if (mode === 'drop') return Buffer.concat([b.subarray(0, offset), b.subarray(offset + 1)]);
  if (mode === 'swap') {
    const a = Buffer.from(b.subarray(offset, offset + BLOCK));
    b.copy(b, offset, offset + BLOCK, offset + 2 * BLOCK);
    a.copy(b, offset + BLOCK);
  }
  return b;
}

// Collects one direction until EOF, then writes it damaged and half-closes.
function mangled(from, to) {
  const parts = [];
  from.on('data', (d) => parts.push(d));
  from.on('end', () => to.end(damage(Buffer.concat(parts))));
}

net
  .createServer({ allowHalfOpen: true }, (client) => {
    const server = net.connect({ host: thost, port: Number(tport), allowHalfOpen: true });
    const kill = () => { client.destroy(); server.destroy(); };
    client.on('error', kill);
    server.on('error', kill);
    if (mode === 'fullclose') {
      server.pipe(client);
      client.pipe(server, { end: false });
      client.on('end', kill);
    } else if (mode === 'pass') {
      client.pipe(server);
      server.pipe(client);
    } else if (dir === 'up') {
      mangled(client, server);
      server.pipe(client);
    } else {
      client.pipe(server);
      mangled(server, client);
    }
  })
  .listen(Number(port), host, () => console.log('ready'));
