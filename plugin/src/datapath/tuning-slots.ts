// TuningSlots: maps the tunings in use to the datapath's profile slots
// (xlnet_profiles has MAX_PROFILES entries). Slot 0 stays all-zero: "kernel
// defaults" (the transparent listener's registration). Identical tunings
// share a slot; a slot no live socket uses is recycled when the table is full.
import type { Datapath, Tuning } from './datapath.js';
import { MAX_PROFILES } from './layout.js';
import { DatapathError } from './datapath-error.js';

export class TuningSlots {
  private bySpec = new Map<string, number>();
  private users = new Map<number, number>();

  constructor(private readonly dp: Datapath) {}

  /** The slot holding `t` (set in the kernel if new), counted as used until release(). */
  acquire(t: Tuning): number {
    const spec = JSON.stringify([t.initcwnd ?? 0, t.cc ?? '', t.sndbuf ?? 0, t.rcvbuf ?? 0, t.cwndClamp ?? 0]);
    let slot = this.bySpec.get(spec);
    if (slot === undefined) {
      slot = this.freeSlot();
      this.dp.setTuning(slot, t);
      this.bySpec.set(spec, slot);
    }
    this.users.set(slot, (this.users.get(slot) ?? 0) + 1);
    return slot;
  }

  release(slot: number): void {
    const n = (this.users.get(slot) ?? 0) - 1;
    if (n > 0) this.users.set(slot, n); else this.users.delete(slot);
  }

  private freeSlot(): number {
    const taken = new Set(this.bySpec.values());
    for (let s = 1; s < MAX_PROFILES; s++) if (!taken.has(s)) return s;
    for (const [spec, s] of this.bySpec) {
      if (!this.users.has(s)) { this.bySpec.delete(spec); return s; }
    }
    throw new DatapathError('E_BAD_TUNING', `all ${MAX_PROFILES - 1} tuning slots are used by live connections with different tunings`);
  }
}
