// The Logs panel's filters: typed into a draft and applied with Enter or Apply; the level applies
// at once. A filter set from elsewhere (a request id clicked, "Show its logs") replaces the draft.
import { useEffect, useState } from 'preact/hooks';
import { DEFAULT_LOG_FILTER, type LogFilter } from './logFilter.js';
import { LOG_LEVELS, type LogLevelName } from './logLevels.js';

type TextField = 'program' | 'instance' | 'contains' | 'requestId';

/** Each text filter's label and the protocol's limits on it (logs.query.request). */
const TEXT_FIELDS: readonly { key: TextField; label: string; maxLength: number; pattern?: string; list?: string }[] = [
  { key: 'program', label: 'Program', maxLength: 32, pattern: '[a-z][a-z0-9\\-]*', list: 'log-programs' },
  { key: 'instance', label: 'Instance', maxLength: 128, pattern: '[!-~]+', list: 'log-instances' },
  { key: 'contains', label: 'Message contains', maxLength: 200 },
  { key: 'requestId', label: 'Request id', maxLength: 64, pattern: '[!-~]+' },
];

export function LogFilters({ filter, onFilter, programs, instances }: { filter: LogFilter; onFilter: (filter: LogFilter) => void; programs: readonly string[]; instances: readonly string[] }) {
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  return (
    <form
      class="log-filters"
      aria-label="Log filters"
      onSubmit={(event) => {
        event.preventDefault();
        onFilter(draft);
      }}
    >
      {TEXT_FIELDS.map((field) => (
        <label key={field.key}>
          {field.label}
          <input type="search" value={draft[field.key]} maxLength={field.maxLength} pattern={field.pattern} list={field.list} spellcheck={false} autoComplete="off" onInput={(event) => setDraft({ ...draft, [field.key]: event.currentTarget.value })} />
        </label>
      ))}
      <label>
        Level at least
        <select
          value={draft.level}
          onChange={(event) => {
            const next = { ...draft, level: event.currentTarget.value as LogLevelName };
            setDraft(next);
            onFilter(next);
          }}
        >
          {LOG_LEVELS.map((level) => (
            <option key={level.name} value={level.name}>
              {level.name}
            </option>
          ))}
        </select>
      </label>
      <div class="log-filter-actions">
        <button type="submit">Apply</button>
        <button
          type="button"
          class="link"
          onClick={() => {
            setDraft(DEFAULT_LOG_FILTER);
            onFilter(DEFAULT_LOG_FILTER);
          }}
        >
          Clear filters
        </button>
      </div>
      <datalist id="log-programs">
        {programs.map((program) => (
          <option key={program} value={program} />
        ))}
      </datalist>
      <datalist id="log-instances">
        {instances.map((instance) => (
          <option key={instance} value={instance} />
        ))}
      </datalist>
    </form>
  );
}
