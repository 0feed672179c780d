/**
 * A README's quick-start example: its first ```js block, and what it prints, the first ```text
 * block after it.
 */
export function readmeExample(readme: string): { code: string; output: string } {
  const code = /^```js\n([\s\S]*?)^```$/m.exec(readme);
  if (!code) throw new Error('the README has no ```js example');
  const output = /^```text\n([\s\S]*?)^```$/m.exec(readme.slice(code.index + code[0].length));
  if (!output) throw new Error('the README does not show what its example prints (a ```text block after it)');
  return { code: code[1]!, output: output[1]!.trimEnd() };
}
