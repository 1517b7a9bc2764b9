// DatapathError: the one error type of the datapath module. `code` is stable;
// the message says what was wrong and what to do about it.

export type DatapathErrorCode =
  | 'E_NO_OBJECT' //  a BPF object file is missing (not built)
  | 'E_LOAD' //       libbpf could not open or load an object (verifier, kernel too old)
  | 'E_LAYOUT' //     a map's key/value size differs from layout.ts (xlnet.h changed)
  | 'E_CGROUP' //     the cgroup is missing, not cgroup v2, or the root
  | 'E_CGROUP_SHARED' // the cgroup holds other processes (a previous xlnetd's helpers may still be leaving)
  | 'E_ATTACH' //     the kernel refused to attach a program
  | 'E_BAD_TUNING' // a tuning value out of range or an unavailable congestion control
  | 'E_REGISTER' //   a socket could not be registered (not a socket, bad ids)
  | 'E_CLOSED'; //    the datapath was closed

export class DatapathError extends Error {
  readonly code: DatapathErrorCode;

  constructor(code: DatapathErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatapathError';
    this.code = code;
  }
}
