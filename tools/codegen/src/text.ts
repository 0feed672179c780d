// Text helpers the language generators share.

/** Canonical key order (ENCODING.md section 1): by UTF-8 bytes. */
export function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Splits `text` into lines of at most `width` characters (a longer word stays whole). */
export function wrapWords(text: string | undefined, width = 96): string[] {
  if (!text) return [];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The error codes of defs.json (`$defs.errorCode.enum`). */
export function errorCodes(defs: { $defs?: Record<string, unknown> }): string[] {
  const codes = (defs.$defs?.['errorCode'] as { enum?: string[] } | undefined)?.enum;
  if (!codes) throw new Error('defs.json must define $defs.errorCode with an enum');
  return codes;
}
