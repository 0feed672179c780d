// One log line: time, level (in its colour), where it came from, the message and its fields, and
// its request id as a button that narrows the panel to that request.
import type { LogRecord } from '@correio/protocol';
import { formatClock } from './format.js';
import { LogFields } from './LogFields.js';
import { logLevelName } from './logLevels.js';

export function LogRow({ line, onRequest }: { line: LogRecord; onRequest: (requestId: string) => void }) {
  const level = logLevelName(line.level);
  const iso = new Date(line.at).toISOString();
  return (
    <tr class={`log-line level-${level}`}>
      <td class="log-time">
        <time dateTime={iso} title={iso}>
          {formatClock(line.at)}
        </time>
      </td>
      <td class="log-level">{level.toUpperCase()}</td>
      <td class="log-source">
        {line.program}/{line.instance}
      </td>
      <td class="log-message">
        <span class="log-msg">{line.msg}</span>
        {line.fields !== undefined && <LogFields text={line.fields} />}
      </td>
      <td class="log-request">
        {line.request_id !== undefined && (
          <button type="button" class="link" title={`Show only the lines of request ${line.request_id}`} onClick={() => onRequest(line.request_id!)}>
            {line.request_id}
          </button>
        )}
      </td>
    </tr>
  );
}
