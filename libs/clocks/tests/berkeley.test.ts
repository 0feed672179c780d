import { describe, expect, it } from 'vitest';
import { BerkeleyCoordinator, BerkeleyParticipant, BerkeleyRoundError, ManualTime, SynchronizedTime, skewedTime, type ClockMeasurement } from '@correio/clocks';

const START = 1_700_000_000_000;

function byParticipant(clocks: readonly ClockMeasurement[]): Record<string, ClockMeasurement> {
  return Object.fromEntries(clocks.map((clock) => [clock.participant, clock]));
}

describe('BerkeleyCoordinator', () => {
  it('estimates offsets with round-trip compensation and moves every clock to the average', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c' });
    const start = coordinator.startRound(['a', 'b'], 1_000);
    expect(start).toEqual({
      round: 1,
      deadline: 3_000,
      polls: [
        { participant: 'a', request: { round: 1 } },
        { participant: 'b', request: { round: 1 } },
      ],
    });
    expect(coordinator.awaiting).toEqual(['a', 'b']);
    // a answered 5000 half-way through a 20 ms round trip that ended at 1020: 5000 + 10 − 1020.
    expect(coordinator.onReply('a', { round: 1, time: 5_000 }, { sentAt: 1_000, receivedAt: 1_020 })).toBe('accepted');
    expect(coordinator.onReply('b', { round: 1, time: 1_000 }, { sentAt: 1_000, receivedAt: 1_010 })).toBe('accepted');
    expect(coordinator.awaiting).toEqual([]);
    const result = coordinator.finish();
    const clocks = byParticipant(result.clocks);
    expect(clocks['a']).toMatchObject({ status: 'included', offsetMs: 3_990, rttMs: 20 });
    expect(clocks['b']).toMatchObject({ status: 'included', offsetMs: -5, rttMs: 10 });
    expect(clocks['c']).toMatchObject({ status: 'included', offsetMs: 0, rttMs: 0 });
    expect(result.medianOffsetMs).toBe(0);
    expect(result.averageOffsetMs).toBeCloseTo((3_990 - 5) / 3, 9);
    expect(result.adjustments).toEqual([
      { participant: 'c', request: { round: 1, adjust_ms: 1_328 } },
      { participant: 'a', request: { round: 1, adjust_ms: -2_662 } },
      { participant: 'b', request: { round: 1, adjust_ms: 1_333 } },
    ]);
    for (const clock of result.clocks) expect(Math.abs(clock.offsetMs! + clock.adjustMs! - result.averageOffsetMs)).toBeLessThanOrEqual(0.5);
    expect(coordinator.round).toBeUndefined();
  });

  it('ignores stale, unknown, duplicate, late and impossible replies', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c', roundTimeoutMs: 100, firstRound: 41 });
    expect(coordinator.onReply('a', { round: 41, time: 0 }, { sentAt: 0, receivedAt: 1 })).toBe('stale'); // no round yet
    const first = coordinator.startRound(['a', 'b', 'd'], 0);
    const second = coordinator.startRound(['a', 'b', 'd'], 1_000); // abandons round 41
    expect([first.round, second.round]).toEqual([41, 42]);
    expect(coordinator.onReply('a', { round: 41, time: 1_000 }, { sentAt: 1_000, receivedAt: 1_002 })).toBe('stale');
    expect(coordinator.onReply('x', { round: 42, time: 1_000 }, { sentAt: 1_000, receivedAt: 1_002 })).toBe('unknown');
    expect(coordinator.onReply('a', { round: 42, time: 1_000 }, { sentAt: 1_000, receivedAt: 1_002 })).toBe('accepted');
    expect(coordinator.onReply('a', { round: 42, time: 9_000 }, { sentAt: 1_000, receivedAt: 1_003 })).toBe('duplicate');
    expect(coordinator.onReply('b', { round: 42, time: 1_000 }, { sentAt: 1_000, receivedAt: 1_101 })).toBe('late');
    expect(coordinator.onReply('d', { round: 42, time: 1_000 }, { sentAt: 1_000, receivedAt: 999 })).toBe('invalid');
    expect(coordinator.onReply('d', { round: 42, time: 1_000.5 }, { sentAt: 1_000, receivedAt: 1_002 })).toBe('invalid');
    expect(coordinator.awaiting).toEqual(['b', 'd']);

    const clocks = byParticipant(coordinator.finish().clocks);
    expect(clocks['a']!.offsetMs).toBe(-1);
    expect(clocks['b']).toEqual({ participant: 'b', status: 'no-reply' }); // missing replies get no adjustment
    expect(clocks['d']).toEqual({ participant: 'd', status: 'no-reply' });
    expect(() => coordinator.finish()).toThrow('no Berkeley round in progress');
    expect(() => coordinator.startRound(['a', 'c'], 0)).toThrow(RangeError);
  });

  it('leaves a wild clock out of the average but still pulls it in', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c', maxDeviationMs: 1_000 });
    const { round } = coordinator.startRound(['a', 'b', 'wild'], 0);
    coordinator.onReply('a', { round, time: 12 }, { sentAt: 0, receivedAt: 4 }); // +10
    coordinator.onReply('b', { round, time: -18 }, { sentAt: 0, receivedAt: 4 }); // −20
    coordinator.onReply('wild', { round, time: 3_600_002 }, { sentAt: 0, receivedAt: 4 }); // +1 h
    const result = coordinator.finish();
    const clocks = byParticipant(result.clocks);
    expect(result.medianOffsetMs).toBe(5);
    expect(clocks['wild']!.status).toBe('outlier');
    expect(result.averageOffsetMs).toBeCloseTo(-10 / 3, 9); // (0 + 10 − 20) / 3: the wild clock does not count
    expect(clocks['wild']!.adjustMs).toBe(Math.round(-10 / 3 - 3_600_000));
  });

  it('treats a wild coordinator like any other outlier', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c', maxDeviationMs: 1_000 });
    const { round } = coordinator.startRound(['a', 'b'], 0);
    coordinator.onReply('a', { round, time: 3_600_000 }, { sentAt: 0, receivedAt: 0 });
    coordinator.onReply('b', { round, time: 3_600_100 }, { sentAt: 0, receivedAt: 0 });
    const result = coordinator.finish();
    const clocks = byParticipant(result.clocks);
    expect(clocks['c']!.status).toBe('outlier');
    expect(result.averageOffsetMs).toBe(3_600_050);
    expect(result.adjustments[0]).toEqual({ participant: 'c', request: { round, adjust_ms: 3_600_050 } });
  });

  it('falls back on the coordinator when no clock is near the median', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c', maxDeviationMs: 1_000 });
    const { round } = coordinator.startRound(['a'], 0);
    coordinator.onReply('a', { round, time: 60_000 }, { sentAt: 0, receivedAt: 0 });
    const result = coordinator.finish();
    expect(result.clocks.map((clock) => clock.status)).toEqual(['included', 'outlier']);
    expect(result.averageOffsetMs).toBe(0);
    expect(result.adjustments.map((adjustment) => adjustment.request.adjust_ms)).toEqual([0, -60_000]);
  });

  it('keeps slow replies out of the vote and adjusts them only by what their uncertainty cannot reverse', () => {
    const coordinator = new BerkeleyCoordinator({ self: 'c', maxRttMs: 100, roundTimeoutMs: 5_000 });
    const { round } = coordinator.startRound(['a', 'slow', 'slowNear'], 0);
    coordinator.onReply('a', { round, time: 30 }, { sentAt: 0, receivedAt: 20 }); // +20
    coordinator.onReply('slow', { round, time: 6_000 }, { sentAt: 0, receivedAt: 2_000 }); // +5000 ± 1000
    coordinator.onReply('slowNear', { round, time: 1_500 }, { sentAt: 0, receivedAt: 2_000 }); // +500 ± 1000
    const result = coordinator.finish();
    const clocks = byParticipant(result.clocks);
    expect(result.averageOffsetMs).toBe(10);
    expect(clocks['slow']).toMatchObject({ status: 'slow', offsetMs: 5_000, rttMs: 2_000, adjustMs: -3_990 }); // −4990 shrunk by 1000
    expect(clocks['slowNear']).toMatchObject({ status: 'slow', adjustMs: 0 }); // −490 is within ±1000: no move
  });
});

describe('BerkeleyParticipant', () => {
  it('reports its corrected clock and applies the adjustment of the round it was polled in, once', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    const participant = new BerkeleyParticipant(time);
    expect(participant.onPoll({ round: 7 })).toEqual({ round: 7, time: START });
    expect(participant.onAdjust({ round: 6, adjust_ms: 100 })).toEqual({ round: 6, applied: false }); // not this round
    expect(participant.onAdjust({ round: 7, adjust_ms: 100 })).toEqual({ round: 7, applied: true });
    expect(participant.onAdjust({ round: 7, adjust_ms: 100 })).toEqual({ round: 7, applied: true }); // a retry
    expect(time.pending).toBe(100); // applied once
    expect(time.now()).toBe(START); // slewing, not stepping
    expect(participant.onPoll({ round: 8 })).toEqual({ round: 8, time: START + 100 }); // pending counts
    expect(participant.onAdjust({ round: 7, adjust_ms: 100 })).toEqual({ round: 7, applied: false }); // superseded
    base.advance(1_000);
    expect(participant.onAdjust({ round: 8, adjust_ms: -40 })).toEqual({ round: 8, applied: true });
    expect(time.correctedNow()).toBe(START + 1_000 + 60);
  });

  it('measures adjustments from the poll, however far it slewed since', () => {
    const base = new ManualTime(START);
    const time = new SynchronizedTime(base);
    const participant = new BerkeleyParticipant(time);
    participant.onPoll({ round: 1 });
    participant.onAdjust({ round: 1, adjust_ms: -10_000 });
    participant.onPoll({ round: 2 });
    base.advance(4_000); // 2000 of the −10 000 slewed meanwhile
    participant.onPoll({ round: 2 }); // a repeated poll keeps the first one's reference
    participant.onAdjust({ round: 2, adjust_ms: 500 });
    expect(time.correctedNow()).toBe(START + 4_000 - 9_500);
  });

  it('refuses adjustments beyond its limit', () => {
    const time = new SynchronizedTime(new ManualTime(START));
    const participant = new BerkeleyParticipant(time, { maxAdjustMs: 60_000 });
    participant.onPoll({ round: 1 });
    expect(participant.onAdjust({ round: 1, adjust_ms: -60_001 })).toEqual({ round: 1, applied: false });
    expect(participant.onAdjust({ round: 1, adjust_ms: 60_000 })).toEqual({ round: 1, applied: true });
    expect(() => participant.onAdjust({ round: 1, adjust_ms: 0.5 })).toThrow(RangeError);
  });
});

describe('BerkeleyParticipant under a hostile coordinator', () => {
  it('never strays further than maxOffsetMs from its base clock, however many rounds announce corrections', () => {
    const time = new SynchronizedTime(new ManualTime(START));
    const participant = new BerkeleyParticipant(time, { maxOffsetMs: 3_600_000 });
    let applied = 0;
    for (let round = START; round < START + 100; round++) {
      participant.onPoll({ round });
      if (participant.onAdjust({ round, adjust_ms: 1_000_000 }).applied) applied += 1;
    }
    expect(applied).toBe(3); // 1, 2 and 3 million ms; the fourth would pass the hour
    expect(time.correctedNow() - START).toBe(3_000_000);
    participant.onPoll({ round: START + 200 });
    expect(participant.onAdjust({ round: START + 200, adjust_ms: Number.MAX_SAFE_INTEGER }).applied).toBe(false);
    expect(participant.onAdjust({ round: START + 200, adjust_ms: -Number.MAX_SAFE_INTEGER }).applied).toBe(false);
    expect(participant.onAdjust({ round: START + 200, adjust_ms: -6_000_000 }).applied).toBe(true); // back to −3 million: within the hour
    expect(time.correctedNow() - START).toBe(-3_000_000);
  });

  it('refuses a poll whose round lies more than a day ahead, unchanged, so later rounds stay far from 2^53', () => {
    const time = new SynchronizedTime(new ManualTime(START));
    const participant = new BerkeleyParticipant(time);
    participant.onPoll({ round: START + 5 });
    let refused: unknown;
    try {
      participant.onPoll({ round: Number.MAX_SAFE_INTEGER });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(BerkeleyRoundError);
    expect((refused as BerkeleyRoundError).data).toMatchObject({ reason: 'round_ahead', round: Number.MAX_SAFE_INTEGER, max_round: START + 86_400_000 });
    expect(participant.onAdjust({ round: START + 5, adjust_ms: 10 }).applied).toBe(true); // still the round it was last polled in
  });
});

describe('one Berkeley round, end to end', () => {
  it('brings the corrected clocks of skewed processes to within a few ms', () => {
    const trueTime = new ManualTime(START);
    const offsets = [0, 90_000, -45_000, 2_500];
    const processes = offsets.map((offsetMs, index) => {
      const time = new SynchronizedTime(skewedTime({ base: trueTime, offsetMs }));
      return { id: `p${index}`, time, participant: new BerkeleyParticipant(time) };
    });
    const [self, ...others] = processes;
    const coordinator = new BerkeleyCoordinator({ self: self!.id, maxDeviationMs: 120_000 });
    const start = coordinator.startRound(
      others.map((other) => other.id),
      self!.time.correctedNow(),
    );
    self!.participant.onPoll(start.polls[0]!.request);
    for (const { participant, request } of start.polls) {
      const sentAt = self!.time.correctedNow();
      trueTime.advance(3);
      const reply = processes.find((p) => p.id === participant)!.participant.onPoll(request);
      trueTime.advance(3);
      expect(coordinator.onReply(participant, reply, { sentAt, receivedAt: self!.time.correctedNow() })).toBe('accepted');
    }
    const result = coordinator.finish();
    for (const { participant, request } of result.adjustments) {
      expect(processes.find((p) => p.id === participant)!.participant.onAdjust(request).applied).toBe(true);
    }
    const corrected = processes.map((p) => p.time.correctedNow());
    expect(Math.max(...corrected) - Math.min(...corrected)).toBeLessThanOrEqual(1);
    expect(corrected[0]! - trueTime.now()).toBe(Math.round((0 + 90_000 - 45_000 + 2_500) / 4));
  });
});
