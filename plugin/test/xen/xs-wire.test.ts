// Framing of xenstore messages from a byte stream that splits and merges them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XsMessageReader, XsProtocolError, XsType, encodeMessage, nulStrings, replyStrings } from '../../src/xen/xs-wire.js';

const msgs = [
  { type: XsType.READ, reqId: 1, txId: 0, payload: Buffer.from('value') },
  { type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: nulStrings('/a/b', 'tok') },
  { type: XsType.DIRECTORY, reqId: 7, txId: 3, payload: Buffer.alloc(0) },
  { type: XsType.ERROR, reqId: 0xffffffff, txId: 0, payload: nulStrings('ENOENT') },
];
const stream = Buffer.concat(msgs.map(encodeMessage));

test('messages split byte by byte come out whole and in order', () => {
  const r = new XsMessageReader();
  const out = [];
  for (let i = 0; i < stream.length; i++) out.push(...r.push(stream.subarray(i, i + 1)));
  assert.equal(out, msgs);
});

test('several messages in one chunk, and one split across chunks', () => {
  const r = new XsMessageReader();
  const cut = stream.length - 5;
  const first = r.push(stream.subarray(0, cut));
  assert.is(first.length, 3);
  assert.equal(r.push(stream.subarray(cut)), [msgs[3]]);
});

test('a header announcing more than 4096 bytes is a protocol error', () => {
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(XsType.READ, 0);
  bad.writeUInt32LE(4097, 12);
  assert.throws(() => new XsMessageReader().push(bad), (e: unknown) => e instanceof XsProtocolError && /4097-byte payload/.test(e.message));
});

test('a watch event payload splits into path and token', () => {
  assert.equal(replyStrings(nulStrings('/x', 'token with spaces')), ['/x', 'token with spaces']);
  assert.equal(replyStrings(Buffer.alloc(0)), []);
});

test.run();
