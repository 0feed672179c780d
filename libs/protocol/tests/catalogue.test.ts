import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BODY_VALIDATORS, ERROR_CODES, MESSAGE_INFO, MESSAGE_TYPES, PROTOCOL_VERSION, validateEnvelope } from '@correio/protocol';
import { hasMessageVectors, messageVectorPath } from './vector-files.js';

const SCHEMAS = new URL('../../../protocol/schemas/v1/', import.meta.url);
const envelopeSchema = JSON.parse(readFileSync(new URL('envelope.json', SCHEMAS), 'utf8')) as {
  properties: { type: { pattern: string; maxLength: number } };
};

describe('the catalogue', () => {
  it('speaks protocol version 1', () => {
    expect(PROTOCOL_VERSION).toBe(1);
  });

  it('lists every message schema in protocol/schemas/v1, sorted and once', () => {
    const schemaTypes = readdirSync(SCHEMAS)
      .filter((file) => file.endsWith('.json') && file !== 'defs.json' && file !== 'envelope.json')
      .map((file) => file.slice(0, -'.json'.length))
      .sort();
    expect([...MESSAGE_TYPES]).toEqual(schemaTypes);
    expect(new Set(MESSAGE_TYPES).size).toBe(MESSAGE_TYPES.length);
  });

  it('has a validator and MESSAGE_INFO for every type, and nothing else', () => {
    expect(Object.keys(BODY_VALIDATORS).sort()).toEqual([...MESSAGE_TYPES]);
    expect(Object.keys(MESSAGE_INFO).sort()).toEqual([...MESSAGE_TYPES]);
    for (const type of MESSAGE_TYPES) {
      expect(typeof BODY_VALIDATORS[type], type).toBe('function');
      expect(MESSAGE_INFO[type].description.length, type).toBeGreaterThan(0);
      expect(['request', 'reply', 'event'], type).toContain(MESSAGE_INFO[type].pattern);
    }
  });

  it('names every type so that the envelope accepts it', () => {
    const pattern = new RegExp(envelopeSchema.properties.type.pattern, 'u');
    for (const type of MESSAGE_TYPES) {
      expect(type, type).toMatch(pattern);
      expect(type.length).toBeLessThanOrEqual(envelopeSchema.properties.type.maxLength);
    }
  });

  it('pairs every request with a reply of the same service', () => {
    const requests = MESSAGE_TYPES.filter((type) => MESSAGE_INFO[type].pattern === 'request');
    expect(requests.length).toBeGreaterThan(0);
    for (const type of requests) {
      const info = MESSAGE_INFO[type];
      expect(info.service, type).toBeDefined();
      expect(info.reply, type).toBeDefined();
      expect(MESSAGE_TYPES, type).toContain(info.reply);
      expect(MESSAGE_INFO[info.reply!].pattern, type).toBe('reply');
      expect(MESSAGE_INFO[info.reply!].service, type).toBe(info.service);
    }
  });

  it('gives events a service and no reply', () => {
    for (const type of MESSAGE_TYPES.filter((name) => MESSAGE_INFO[name].pattern === 'event')) {
      expect(MESSAGE_INFO[type].service, type).toBeDefined();
      expect(MESSAGE_INFO[type].reply, type).toBeUndefined();
    }
  });

  it('lists the error codes of defs.json', () => {
    const defs = JSON.parse(readFileSync(new URL('defs.json', SCHEMAS), 'utf8')) as { $defs: { errorCode: { enum: string[] } } };
    expect([...ERROR_CODES]).toEqual(defs.$defs.errorCode.enum);
  });

  it('has test vectors for every type, with valid and invalid cases', () => {
    const missing = MESSAGE_TYPES.filter((type) => !hasMessageVectors(type));
    expect(missing, 'add samples to tools/codegen/src/vector-samples.ts and run npm run generate').toEqual([]);
    for (const type of MESSAGE_TYPES) {
      const file = JSON.parse(readFileSync(messageVectorPath(type), 'utf8')) as { type: string; valid: unknown[]; invalid: unknown[] };
      expect(file.type).toBe(type);
      expect(file.valid.length, type).toBeGreaterThan(0);
      expect(file.invalid.length, type).toBeGreaterThan(0);
    }
  });

  it('validates the envelope apart from the body', () => {
    const envelope = { v: 1, type: 'any.thing', id: 'a', from: 'b', lc: 0, ts: 0, body: { anything: [1, 2] } };
    expect(validateEnvelope(envelope)).toBe(true);
    expect(validateEnvelope({ ...envelope, body: [] })).toBe(false);
    expect(validateEnvelope.errors?.[0]?.instancePath).toBe('/body');
  });
});
