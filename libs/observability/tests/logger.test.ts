import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { componentLogger, createLogger, resolveLogLevel } from '@correio/observability';

function collector(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('is quiet by default: warn and above only, as JSON with the component name', () => {
    const { stream, lines } = collector();
    const logger = createLogger('broker', { destination: stream, level: resolveLogLevel(undefined, {}) });
    logger.info('not shown');
    logger.warn({ service: 'echo' }, 'shown');
    const written = lines();
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ name: 'broker', msg: 'shown', service: 'echo', level: 40 });
    expect(typeof written[0]!['time']).toBe('string');
  });

  it('takes its level from the option, then CORREIO_LOG_LEVEL, then warn', () => {
    expect(resolveLogLevel('debug', { CORREIO_LOG_LEVEL: 'error' })).toBe('debug');
    expect(resolveLogLevel(undefined, { CORREIO_LOG_LEVEL: 'error' })).toBe('error');
    expect(resolveLogLevel(undefined, {})).toBe('warn');
  });

  it('rejects a level pino does not know, naming the valid ones', () => {
    expect(() => resolveLogLevel('loud', {})).toThrow(/unknown log level "loud".*fatal, error, warn, info/);
  });

  it('logs at info when asked', () => {
    const { stream, lines } = collector();
    const logger = createLogger('proxy', { destination: stream, level: 'info', base: { instance: 'p1' } });
    logger.info('ready');
    expect(lines()[0]).toMatchObject({ name: 'proxy', msg: 'ready', instance: 'p1', pid: process.pid });
  });
});

describe('componentLogger', () => {
  it("is a child of the application's logger, named after the component", () => {
    const { stream, lines } = collector();
    const app = createLogger('server', { destination: stream, level: 'info' });
    componentLogger('election', app).info({ term: 3 }, 'elected');
    expect(lines()).toEqual([expect.objectContaining({ name: 'server', component: 'election', term: 3, msg: 'elected' })]);
  });

  it('is silent without one, unless CORREIO_LOG_LEVEL asks for more', () => {
    const saved = process.env['CORREIO_LOG_LEVEL'];
    delete process.env['CORREIO_LOG_LEVEL'];
    try {
      const logger = componentLogger('discovery');
      expect(logger.level).toBe('silent');
      expect(logger.isLevelEnabled('fatal')).toBe(false);
    } finally {
      if (saved !== undefined) process.env['CORREIO_LOG_LEVEL'] = saved;
    }
  });
});
