import type { Settings } from './checkDocument.js';

/**
 * A program's effective settings: the kind's document with the instance's keys over it. Built on
 * a null-prototype object, so a key such as `__proto__` is a key like any other, never a prototype.
 */
export function effectiveSettings(kind: Settings, instance: Settings): Settings {
  const merged: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const source of [kind, instance]) for (const [key, value] of Object.entries(source)) merged[key] = value;
  return merged;
}

/** Parses a document already accepted by the service (an object); anything else is an empty document. */
export function parseSettings(text: string): Settings {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? effectiveSettings(value as Settings, {}) : {};
  } catch {
    return {};
  }
}
