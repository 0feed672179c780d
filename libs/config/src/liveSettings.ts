import { isLogLevel, setLogLevel } from '@correio/observability';
import type { Settings } from './checkDocument.js';

/** Applies a new value of one setting to the running program; throws when it cannot. */
export type LiveSetter = (value: unknown) => void;

/** What a change of settings did to the running program. */
export interface AppliedChange {
  /** Settings now in effect in the running program. */
  readonly applied: readonly string[];
  /** Settings that changed but take effect only at the next start. */
  readonly restart: readonly string[];
  /** Settings whose setter refused the value, with why. */
  readonly failed: ReadonlyArray<{ readonly key: string; readonly error: string }>;
}

/**
 * The settings of this process that can change while it runs, by config key. `logLevel` is
 * built in; a program adds its own (a rate limit, a timeout) with registerLiveSetting.
 */
const setters = new Map<string, LiveSetter>([
  [
    'logLevel',
    (value) => {
      // Back to the level the program started with when the key is removed: the default, quiet.
      const level = value === undefined ? (process.env['CORREIO_LOG_LEVEL'] ?? 'warn') : value;
      if (!isLogLevel(level)) throw new RangeError(`unknown log level ${JSON.stringify(level)}`);
      setLogLevel(level);
    },
  ],
]);

/** Makes `key` a setting that follows the configuration service live; returns the unregister function. */
export function registerLiveSetting(key: string, setter: LiveSetter): () => void {
  setters.set(key, setter);
  return () => {
    if (setters.get(key) === setter) setters.delete(key);
  };
}

/** The keys that change live in this process now. */
export function liveSettingKeys(): string[] {
  return [...setters.keys()].sort();
}

/** The keys whose values differ between two settings documents (added, removed or changed). */
export function changedKeys(before: Settings, after: Settings): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
}

/**
 * Applies the settings that changed from `before` to `after`: live ones through their setters,
 * the rest reported as needing a restart. A removed key is set to undefined (the setter's default).
 */
export function applyChanges(before: Settings, after: Settings): AppliedChange {
  const applied: string[] = [];
  const restart: string[] = [];
  const failed: Array<{ key: string; error: string }> = [];
  for (const key of changedKeys(before, after)) {
    const setter = setters.get(key);
    if (setter === undefined) {
      restart.push(key);
      continue;
    }
    try {
      setter(after[key]);
      applied.push(key);
    } catch (error) {
      failed.push({ key, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { applied, restart, failed };
}
