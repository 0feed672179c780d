// A line's other fields (JSON text): one compact `key=value` line, the whole object when opened.

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function LogFields({ text }: { text: string }) {
  const fields = parsed(text);
  if (fields === undefined) return <code class="log-fields">{text}</code>;
  const compact = Object.entries(fields)
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return (
    <details class="log-fields">
      <summary>{compact}</summary>
      <pre>{JSON.stringify(fields, null, 2)}</pre>
    </details>
  );
}
