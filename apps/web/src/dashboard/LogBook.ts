// The Logs panel's lines, newest first, bounded, each once: every read repeats most of the previous one.
import type { LogRecord } from '@correio/protocol';
import { UniqueWindow } from './UniqueWindow.js';

/** Lines kept, at most: the oldest go first. */
const MAX_LOG_LINES = 1000;

/** A line's identity (protocol 1.5): program, instance, run and sequence number. */
export const logLineKey = (line: LogRecord) => `${line.program}\u0000${line.instance}\u0000${line.boot}\u0000${line.seq}`;

/** By time, then (lines of the same millisecond) by sequence number, then by identity: the same order whatever order they came in. */
const newestFirst = (a: LogRecord, b: LogRecord) => b.at - a.at || b.seq - a.seq || (logLineKey(a) < logLineKey(b) ? 1 : -1);

export const newLogBook = () => new UniqueWindow<LogRecord>(logLineKey, newestFirst, MAX_LOG_LINES);
