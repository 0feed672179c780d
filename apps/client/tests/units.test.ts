// Pure parts: command parsing, latency percentiles, the pacer.
import { describe, expect, it } from 'vitest';
import { LatencyRecorder, pace, parseCommandLine } from '@correio/client';

describe('parseCommandLine', () => {
  it('parses every command', () => {
    expect(parseCommandLine('hello there')).toEqual({ ok: true, command: { name: 'say', text: 'hello there' } });
    expect(parseCommandLine('//join is not a command')).toEqual({ ok: true, command: { name: 'say', text: '/join is not a command' } });
    expect(parseCommandLine('  /join   general ')).toEqual({ ok: true, command: { name: 'join', channel: 'general' } });
    expect(parseCommandLine('/create dev-ops')).toEqual({ ok: true, command: { name: 'create', channel: 'dev-ops' } });
    expect(parseCommandLine('/leave')).toEqual({ ok: true, command: { name: 'leave' } });
    expect(parseCommandLine('/msg bob  hi  there ')).toEqual({ ok: true, command: { name: 'msg', to: 'bob', text: 'hi  there' } });
    expect(parseCommandLine('/history')).toEqual({ ok: true, command: { name: 'history', count: 20 } });
    expect(parseCommandLine('/history 200')).toEqual({ ok: true, command: { name: 'history', count: 200 } });
    expect(parseCommandLine('/conversation bob 5')).toEqual({ ok: true, command: { name: 'conversation', peer: 'bob', count: 5 } });
    expect(parseCommandLine('/CHANNELS')).toEqual({ ok: true, command: { name: 'channels' } });
    expect(parseCommandLine('/exit')).toEqual({ ok: true, command: { name: 'quit' } });
    expect(parseCommandLine('/password')).toEqual({ ok: true, command: { name: 'password' } });
    expect(parseCommandLine('   ')).toEqual({ ok: 'blank' });
  });

  it('explains what is wrong with a bad line', () => {
    expect(parseCommandLine('/join')).toMatchObject({ ok: false, command: 'join', problem: 'usage: /join <channel>' });
    expect(parseCommandLine('/join a/b')).toMatchObject({ ok: false, problem: expect.stringMatching(/not a valid channel name/) });
    expect(parseCommandLine('/msg bob')).toMatchObject({ ok: false, problem: 'usage: /msg <user> <text>' });
    expect(parseCommandLine('/history 0')).toMatchObject({ ok: false, command: 'history' });
    expect(parseCommandLine('/history lots')).toMatchObject({ ok: false, command: 'history' });
    expect(parseCommandLine('/users now')).toMatchObject({ ok: false, problem: '/users takes no argument' });
    // A password typed on the command line is refused: /password asks for it, hidden.
    expect(parseCommandLine('/password hunter2hunter2')).toMatchObject({ ok: false, command: 'password', problem: 'usage: /password (it asks for the passwords, hidden)' });
    expect(parseCommandLine('/dance')).toMatchObject({ ok: false, problem: 'unknown command /dance; /help lists the commands' });
    expect(parseCommandLine('x'.repeat(4001))).toMatchObject({ ok: false, command: 'say', problem: expect.stringMatching(/at most 4000/) });
    expect(parseCommandLine('😀'.repeat(4000))).toMatchObject({ ok: true });
  });
});

describe('LatencyRecorder', () => {
  it('gives nearest-rank percentiles', () => {
    const recorder = new LatencyRecorder();
    expect(recorder.summary()).toBeUndefined();
    for (let ms = 100; ms >= 1; ms -= 1) recorder.record(ms);
    expect(recorder.summary()).toEqual({ count: 100, p50: 50, p99: 99, max: 100, mean: 50.5 });
  });

  it('keeps a bounded uniform sample past its capacity, with exact count and max', () => {
    const recorder = new LatencyRecorder(1_000);
    for (let i = 0; i < 100_000; i += 1) recorder.record(i % 100);
    recorder.record(5_000);
    const summary = recorder.summary()!;
    expect(summary.count).toBe(100_001);
    expect(summary.max).toBe(5_000);
    expect(summary.p50).toBeGreaterThanOrEqual(40);
    expect(summary.p50).toBeLessThanOrEqual(60);
  });
});

describe('pace', () => {
  it('stops after the message limit, in order', async () => {
    const seen: number[] = [];
    const result = await pace({ rate: 1_000, limit: 25 }, async (i) => void seen.push(i));
    expect(result).toMatchObject({ iterations: 25, stoppedBy: 'messages' });
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('stops at the duration, having run about rate × duration steps', async () => {
    let steps = 0;
    const result = await pace({ rate: 100, durationMs: 300 }, async () => void (steps += 1));
    expect(result.stoppedBy).toBe('duration');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(299);
    expect(steps).toBe(30);
  });

  it('stops when the signal aborts', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const result = await pace({ rate: 10, durationMs: 60_000, signal: stop.signal }, async () => undefined);
    expect(result.stoppedBy).toBe('signal');
    expect(result.iterations).toBeLessThan(10);
  });

  it('refuses an unbounded loop', async () => {
    await expect(pace({ rate: 1 }, async () => undefined)).rejects.toThrow(/must end/);
  });
});
