// A pino line becomes the columns the log service indexes (time, level, message, request id) and
// its other fields as JSON text, within the protocol's limits, whatever the line holds.
import { describe, expect, it } from 'vitest';
import { BODY_VALIDATORS } from '@correio/protocol';
import { levelName, toLogLine } from '@correio/logs';

const NOW = 1_796_000_000_000;

function valid(line: ReturnType<typeof toLogLine>): boolean {
  return BODY_VALIDATORS['logs.ship.request']({ program: 'tester', instance: 't', boot: 'bootboot', lines: [line] });
}

describe('toLogLine', () => {
  it('reads the columns of a pino line and keeps the other fields, less those every line repeats', () => {
    const line = toLogLine(JSON.stringify({ level: 40, time: '2026-12-07T10:00:00.000Z', pid: 7, hostname: 'h', name: 'server', msg: 'peer lost', rid: 'req-1', peer: 'srv-2' }), 3, NOW);
    expect(line).toEqual({ seq: 3, at: Date.parse('2026-12-07T10:00:00.000Z'), level: 40, msg: 'peer lost', request_id: 'req-1', fields: '{"name":"server","peer":"srv-2"}' });
    expect(valid(line)).toBe(true);
    expect(toLogLine(JSON.stringify({ level: 30, time: NOW - 5, msg: 'x', reqId: 'http-9' }), 1, NOW)).toEqual({ seq: 1, at: NOW - 5, level: 30, msg: 'x', request_id: 'http-9' });
  });

  it('ships anything else as text at info, now, and never throws', () => {
    for (const text of ['not json\n', '[1,2]', 'null', '"a string"', '{"level":"loud","time":"yesterday","msg":42}', '']) {
      const line = toLogLine(text, 1, NOW);
      expect(line.at).toBe(NOW);
      expect(line.level).toBe(30);
      expect(valid(line), text).toBe(true);
    }
  });

  it('keeps within the protocol limits: long messages clipped, long fields truncated to valid JSON, odd request ids left out', () => {
    const long = toLogLine(JSON.stringify({ level: 50, time: NOW, msg: 'm'.repeat(10_000), big: '\u0001'.repeat(50_000), rid: 'x'.repeat(65) }), 1, NOW);
    expect(long.msg).toHaveLength(4000);
    expect(long.fields!.length).toBeLessThanOrEqual(4000);
    expect(JSON.parse(long.fields!)).toMatchObject({ truncated: true });
    expect(long.request_id).toBeUndefined();
    expect(valid(long)).toBe(true);
  });

  it('keeps a __proto__ field as a field', () => {
    const line = toLogLine('{"level":30,"time":1,"msg":"hi","__proto__":{"polluted":true}}', 1, NOW);
    expect(JSON.parse(line.fields!)).toEqual({ ['__proto__']: { polluted: true } });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('names levels', () => {
    expect([10, 20, 30, 40, 50, 60, 35].map(levelName)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'info']);
  });
});
