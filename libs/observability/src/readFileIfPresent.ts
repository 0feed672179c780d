import { readFileSync } from 'node:fs';

/** The text of `path`, or undefined when there is no such file (a first start); other errors throw. */
export function readFileIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
