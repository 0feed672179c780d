/** Formats rows of cells as an aligned plain-text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function rate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

/** Relative difference of `value` from `baseline`, signed: negative means slower. */
export function relative(value: number, baseline: number): string {
  const percent = ((value - baseline) / baseline) * 100;
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%`;
}
