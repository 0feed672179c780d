import { CorreioError } from '@correio/codec';

/** One thing wrong in a config file, located as precisely as the file allows. */
export interface ConfigProblem {
  /** Dotted key path, such as `broker.heartbeat` (empty for the file as a whole). */
  readonly key: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
  /** What is wrong and what to do about it. */
  readonly message: string;
}

/**
 * A config file that cannot be used: unreadable, not YAML/JSON, or not matching the schema. The
 * message lists every problem as `file:line: key: what is wrong`, so one run shows them all.
 */
export class ConfigError extends CorreioError {
  override name = 'ConfigError';
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    super('VALIDATION', describe(file, problems), { retryable: false, data: { file, problems } });
    this.file = file;
    this.problems = problems;
  }
}

function describe(file: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((problem) => {
    const where = problem.line !== undefined ? `${file}:${problem.line}` : file;
    return `  ${where}: ${problem.key ? `${problem.key}: ` : ''}${problem.message}`;
  });
  const noun = problems.length === 1 ? 'problem' : 'problems';
  const aboutKeys = problems.some((problem) => problem.key !== '');
  return (
    `config file ${file} has ${problems.length} ${noun}:\n${lines.join('\n')}` +
    (aboutKeys ? '\n  Each section takes the flags of its program in camelCase; `correio <program> --help` lists them.' : '')
  );
}
