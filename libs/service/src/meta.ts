/**
 * Call metadata the framework itself sends, under the `correio.` prefix so it never collides with
 * an application's keys. Handlers do not see these in ctx.meta.
 */
export const FRAMEWORK_META_PREFIX = 'correio.';

/** How long the caller waits for this attempt, in ms: the callee stops working for it after that. */
export const TIMEOUT_META = 'correio.timeout';

/** ctx.meta without the framework's keys. */
export function applicationMeta(meta: Readonly<Record<string, string | undefined>> | undefined): Readonly<Record<string, string>> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta ?? {})) if (value !== undefined && !key.startsWith(FRAMEWORK_META_PREFIX)) kept[key] = value;
  return kept;
}
