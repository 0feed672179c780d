import { createRequire } from 'node:module';

/**
 * The version in the package.json one directory above `moduleUrl` (a program's src/ and dist/ files
 * both sit there): what its /health reports. Call it with `import.meta.url`.
 */
export function packageVersion(moduleUrl: string | URL): string {
  return (createRequire(moduleUrl)('../package.json') as { version: string }).version;
}
