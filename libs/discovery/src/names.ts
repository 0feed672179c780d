// Broker services and pub/sub topics of the reference-server and election protocols
// (protocol/FRAMES.md §4).

/** The broker service the reference server serves: every `ref.*.request`. */
export const REF_SERVICE = 'ref';

/** The topic of `ref.membership` events. */
export const MEMBERSHIP_TOPIC = 'ref/membership/';

/** The topic of `election.coordinator` announcements. */
export const ELECTION_TOPIC = 'election/';

/** The broker service that reaches exactly one server: `srv.<server-id>`. */
export function serverService(server: string): string {
  return `srv.${server}`;
}
