import type { ElectionCoordinator } from '@correio/protocol';

/**
 * The coordinator of the latest election, as announcements on `election/` tell it: the one with the
 * highest term wins, and between equal terms the higher rank (the rule every server applies).
 * Soft state: after a restart it is unknown until the coordinator re-announces itself.
 */
export class CoordinatorTracker {
  #current: ElectionCoordinator | undefined;

  get current(): ElectionCoordinator | undefined {
    return this.#current;
  }

  /** Takes an announcement into account; true when it changed the coordinator or its term. */
  observe(announcement: ElectionCoordinator): boolean {
    const current = this.#current;
    if (current !== undefined) {
      if (announcement.term < current.term) return false;
      if (announcement.term === current.term && announcement.rank <= current.rank) return false;
    }
    this.#current = { server: announcement.server, rank: announcement.rank, term: announcement.term };
    return true;
  }
}
