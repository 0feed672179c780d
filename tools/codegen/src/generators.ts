// Every target of `npm run generate`, in the order they run (README.md, "Adding a target
// language"). A new language is one module exporting a Generator, added to this list.
import type { Generator } from './generator.js';
import { goGenerator } from './go.js';
import { gatewayGenerator } from './openapi.js';
import { pythonGenerator } from './python.js';
import { rustGenerator } from './rust.js';
import { typescriptGenerator } from './typescript.js';
import { vectorsGenerator } from './vectors-generator.js';

export const GENERATORS: readonly Generator[] = [typescriptGenerator, gatewayGenerator, vectorsGenerator, pythonGenerator, goGenerator, rustGenerator];
