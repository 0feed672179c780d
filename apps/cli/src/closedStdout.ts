/**
 * A command whose output is piped into one that stops reading (`correio logs | head`) ends quietly,
 * with status 0, as `cat` or `grep` do, instead of dying of EPIPE with a stack trace.
 */
export function exitQuietlyWhenStdoutCloses(stdout: NodeJS.WritableStream = process.stdout, exit: (code: number) => void = (code) => process.exit(code)): void {
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') exit(0);
    else throw error;
  });
}
