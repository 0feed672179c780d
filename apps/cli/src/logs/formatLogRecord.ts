import type { LogRecord } from '@correio/protocol';
import { formatLogLine } from '../up/formatLogLine.js';

/** One stored line for people: `<time> <program>/<instance> LEVEL message key=value … rid=<request id>`. */
export function formatLogRecord(record: LogRecord, color: boolean): string {
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = record.fields === undefined ? {} : JSON.parse(record.fields);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
  } catch {
    fields = { fields: record.fields };
  }
  const line = JSON.stringify({ ...fields, level: record.level, msg: record.msg, ...(record.request_id === undefined ? {} : { rid: record.request_id }) });
  return `${new Date(record.at).toISOString()} ${record.program}/${record.instance} ${formatLogLine(line, color)}`;
}
