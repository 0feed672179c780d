// Chat-like message texts for the bot: a few words from a small vocabulary, so messages vary in
// length like people's do without shipping a corpus.

const OPENERS = ['hi', 'hey', 'so', 'ok', 'well', 'look', 'btw', 'hmm', 'right', 'yes', 'no', 'lol'];
const WORDS = [
  'the', 'deploy', 'is', 'done', 'broker', 'queue', 'looks', 'fine', 'now', 'who', 'has', 'seen', 'latency', 'spike',
  'again', 'coffee', 'anyone', 'meeting', 'at', 'three', 'shipping', 'it', 'today', 'tests', 'are', 'green', 'red',
  'on', 'my', 'machine', 'proxy', 'restart', 'clock', 'skew', 'lamport', 'order', 'message', 'lost', 'found', 'retry',
  'with', 'backoff', 'sounds', 'good', 'thanks', 'later', 'lunch', 'replica', 'caught', 'up', 'server', 'down', 'back',
];

/** A message of 3 to 16 words. */
export function chatText(random: () => number = Math.random): string {
  const pick = (list: readonly string[]): string => list[Math.floor(random() * list.length)]!;
  const length = 2 + Math.floor(random() * 14);
  const words = [pick(OPENERS)];
  for (let i = 0; i < length; i += 1) words.push(pick(WORDS));
  return words.join(' ');
}
