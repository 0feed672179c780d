import { changedKeys, type Settings } from '@correio/config';

/** One setting that differs between two documents. */
export interface SettingDiff {
  readonly key: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** The settings added, removed or changed from `before` to `after`, by key. */
export function documentDiff(before: Settings, after: Settings): SettingDiff[] {
  return changedKeys(before, after).map((key) => ({ key, ...(key in before ? { before: before[key] } : {}), ...(key in after ? { after: after[key] } : {}) }));
}

/** `- key: old` / `+ key: new` lines, as a reader of a diff expects. */
export function formatDiff(diff: readonly SettingDiff[]): string {
  if (diff.length === 0) return '(no differences)\n';
  return diff.map(({ key, before, after }) => [before === undefined ? undefined : `- ${key}: ${JSON.stringify(before)}`, after === undefined ? undefined : `+ ${key}: ${JSON.stringify(after)}`].filter(Boolean).join('\n')).join('\n') + '\n';
}
