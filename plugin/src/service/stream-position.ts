// Where each direction of a split connection stands, read from the kernel's
// own TCP counters: how many bytes the relay took out of the source socket and
// how many it put into the destination socket. A restarted xlnetd compares
// the two for the sockets the keeper held: what the destination has beyond
// what the source gave up is repeated at the head of the source's queue
// (thrown away before relaying resumes); a destination short of the source
// means bytes were taken out and never written (they lived only in the dead
// xlnetd's memory): a hole, so the connection is reset rather than continued.
//
// tcp_info counts sequence space: the SYN of an active open and a FIN each
// take one in bytes_acked (sender) and a FIN one in bytes_received
// (receiver). SIOCINQ leaves a received FIN out, SIOCOUTQ counts a queued one.
import * as libc from '../ffi/libc.js';

// include/net/tcp_states.h
const ESTABLISHED = 1, FIN_WAIT1 = 4, FIN_WAIT2 = 5, TIME_WAIT = 6, CLOSE = 7, CLOSE_WAIT = 8, LAST_ACK = 9, CLOSING = 11;
const FIN_RECEIVED = new Set([CLOSE_WAIT, LAST_ACK, CLOSING, TIME_WAIT]);
const FIN_SENT = new Set([FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK, TIME_WAIT]);

export interface LegPosition {
  state: number;
  /** data bytes read out of the receive queue */
  consumed: number;
  /** data bytes written into the socket (acknowledged or still queued) */
  written: number;
  finReceived: boolean;
  finSent: boolean;
  /** closed after both FINs (TIME_WAIT's path): what is queued is still readable */
  graceful: boolean;
}

/**
 * A socket's counters; `activeOpen` for the WAN leg (its SYN counts in
 * bytes_acked). tcp_info and the queue sizes are separate calls: an ACK or a
 * segment arriving between them would skew the sum, so they are read until
 * tcp_info is the same before and after the queue sizes.
 */
export function legPosition(fd: number, activeOpen: boolean): LegPosition {
  for (let tries = 0; ; tries++) {
    const i = libc.tcpInfo(fd);
    // A socket that went through TIME_WAIT (both FINs) is CLOSE with no error;
    // a reset or a timeout leaves one (SO_ERROR).
    const graceful = i.state === CLOSE && libc.getInt(fd, libc.SOL_SOCKET, libc.SO_ERROR) === 0;
    const finReceived = FIN_RECEIVED.has(i.state) || graceful;
    const finSent = FIN_SENT.has(i.state) || graceful;
    const inq = libc.inq(fd), outq = libc.outq(fd);
    const again = libc.tcpInfo(fd);
    if ((again.bytes_acked !== i.bytes_acked || again.bytes_received !== i.bytes_received || again.state !== i.state) && tries < 100) continue;
    return {
      state: i.state,
      consumed: i.bytes_received - inq - (finReceived ? 1 : 0),
      written: i.bytes_acked + outq - (activeOpen ? 1 : 0) - (finSent ? 1 : 0),
      finReceived, finSent, graceful,
    };
  }
}

export interface DirectionPosition {
  /** bytes at the head of the source's queue that the destination has already */
  repeated: number;
  /** bytes the source gave up that the destination never got (lost with xlnetd) */
  lost: number;
  /** the source's FIN was already carried to the destination */
  finCarried: boolean;
}

/** One direction, src -> dst (the counters are read now; both sockets quiet). */
export function directionPosition(src: LegPosition, dst: LegPosition): DirectionPosition {
  const d = dst.written - src.consumed;
  return { repeated: Math.max(0, d), lost: Math.max(0, -d), finCarried: dst.finSent };
}

/** Usable for relaying again: not closed, not reset. */
export function legAlive(p: LegPosition): boolean {
  return p.graceful || p.state === ESTABLISHED || FIN_RECEIVED.has(p.state) || FIN_SENT.has(p.state);
}
