// Three servers with clocks minutes apart: Berkeley rounds bring them within milliseconds; Lamport and HLC stamps.
// Run from the repository root: npx tsx --conditions=@correio/source libs/clocks/examples/berkeley.ts
import {
  BerkeleyCoordinator, BerkeleyParticipant, HybridLogicalClock, InMemoryClockStore, LamportClock,
  ManualTime, SynchronizedTime, decodeHlc, encodeHlc, skewedTime,
} from '@correio/clocks';

// Three servers whose hardware clocks are off by up to two minutes and drift by up to 100 ppm.
const trueTime = new ManualTime(Date.UTC(2025, 0, 1));
const servers = [
  { id: 'a', offsetMs: 0, driftPpm: 40 },
  { id: 'b', offsetMs: 95_000, driftPpm: -100 },
  { id: 'c', offsetMs: -120_000, driftPpm: 100 },
].map(({ id, offsetMs, driftPpm }) => {
  const time = new SynchronizedTime(skewedTime({ base: trueTime, offsetMs, driftPpm }));
  return { id, time, berkeley: new BerkeleyParticipant(time), hlc: new HybridLogicalClock({ time }) };
});
const byId = (id: string) => servers.find((server) => server.id === id)!;

// A Berkeley round coordinated by 'a'; here every message takes 5 ms each way.
const self = byId('a');
const coordinator = new BerkeleyCoordinator({ self: 'a', maxDeviationMs: 300_000 });
function berkeleyRound() {
  const start = coordinator.startRound(['b', 'c'], self.time.correctedNow());
  self.berkeley.onPoll({ round: start.round }); // the coordinator takes part too
  for (const { participant, request } of start.polls) {
    const sentAt = self.time.correctedNow();
    trueTime.advance(5);
    const reply = byId(participant).berkeley.onPoll(request); // clock.poll.request → clock.poll.reply
    trueTime.advance(5);
    coordinator.onReply(participant, reply, { sentAt, receivedAt: self.time.correctedNow() });
  }
  const result = coordinator.finish();
  for (const { participant, request } of result.adjustments) byId(participant).berkeley.onAdjust(request); // clock.adjust.*
  return result;
}

const first = berkeleyRound();
console.log(first.clocks.map(({ participant, status, adjustMs }) => `${participant}: ${status}, adjust ${adjustMs} ms`).join('\n'));
// The adjustments slew in at ≤ 50 % (2 × 112 s here); a round every 10 s keeps the drift in check.
for (let round = 0; round < 30; round++) {
  trueTime.advance(10_000);
  berkeleyRound();
}
const readings = servers.map((server) => server.time.now());
console.log('spread after 31 rounds:', Math.max(...readings) - Math.min(...readings), 'ms');

// Lamport clock persisted in blocks of 1000; HLC on the synchronised time.
const lamport = new LamportClock({ store: new InMemoryClockStore(), reserve: 1000 });
const sent = { lc: lamport.tick(), hlc: encodeHlc(byId('b').hlc.now()) }; // b sends
const received = byId('c').hlc.update(decodeHlc(sent.hlc)); // c receives
console.log('lc', sent.lc, 'hlc sent', sent.hlc, 'received', encodeHlc(received));
