// The daemon's one logger: level-filtered lines on stderr (journald or the
// lab's log file collects them).
export type Level = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Logger {
  constructor(public level: Level = 'info', private readonly out: (line: string) => void = (l) => process.stderr.write(l)) {}

  log(level: Level, msg: string): void {
    if (ORDER[level] > ORDER[this.level]) return;
    this.out(`${new Date().toISOString()} xlnetd[${process.pid}] ${level}: ${msg}\n`);
  }

  error(m: string): void { this.log('error', m); }
  warn(m: string): void { this.log('warn', m); }
  info(m: string): void { this.log('info', m); }
  debug(m: string): void { this.log('debug', m); }
}
