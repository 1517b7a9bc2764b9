// The one error type of the command line: a message saying what was wrong,
// an optional hint saying what to do, and the exit code it ends with.
import { EXIT } from './exit-codes.js';

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    /** What to do about it: printed on its own line after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A command line that cannot be right; the hint points at the verb's help. */
export function usageError(message: string, verb?: string): CliError {
  return new CliError(EXIT.USAGE, message, `see: xlnet help${verb ? ` ${verb}` : ''}`);
}
