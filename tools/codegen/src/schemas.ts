import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface JsonSchema {
  $id: string;
  title?: string;
  description?: string;
  'x-correio-type'?: string;
  'x-correio-pattern'?: 'request' | 'reply' | 'event';
  'x-correio-service'?: string;
  'x-correio-reply'?: string;
  $defs?: Record<string, JsonSchema & Record<string, unknown>>;
  [key: string]: unknown;
}

/** The protocol revision the schemas describe (protocol/README.md "Revisions"); the wire version `v` stays 1. */
export const PROTOCOL_REVISION = '1.10';

/** A message schema: one file of protocol/schemas/v1 that describes the body of one message type. */
export interface MessageSchema {
  readonly type: string;
  readonly file: string;
  readonly title: string;
  readonly schema: JsonSchema;
}

export interface SchemaSet {
  readonly dir: string;
  readonly defs: JsonSchema;
  readonly envelope: JsonSchema;
  readonly messages: readonly MessageSchema[];
  readonly all: readonly JsonSchema[];
}

/** Loads protocol/schemas/v1: the shared defs, the envelope and every message schema, sorted by type. */
export function loadSchemas(root: string): SchemaSet {
  const dir = join(root, 'protocol', 'schemas', 'v1');
  const files = readdirSync(dir).filter((file) => file.endsWith('.json')).sort();
  const all: JsonSchema[] = [];
  const messages: MessageSchema[] = [];
  let defs: JsonSchema | undefined;
  let envelope: JsonSchema | undefined;
  for (const file of files) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as JsonSchema;
    all.push(schema);
    if (file === 'defs.json') defs = schema;
    else if (file === 'envelope.json') envelope = schema;
    else {
      const type = schema['x-correio-type'];
      if (type !== file.slice(0, -'.json'.length)) throw new Error(`${file}: x-correio-type must be ${file.slice(0, -5)}`);
      if (!schema.title) throw new Error(`${file}: a title is required (it names the generated type)`);
      messages.push({ type, file, title: schema.title, schema });
    }
  }
  if (!defs || !envelope) throw new Error(`${dir} must hold defs.json and envelope.json`);
  return { dir, defs, envelope, messages, all };
}
