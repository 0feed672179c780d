// Raw MDP frames for tests, written out independently of src/mdp.ts.

/** One packed header frame (FRAMES.md §1.12): "MDPC02" or "MDPW02", the command byte, then a service name or client address. */
export function packed(header: string, command: number, tail: Buffer | string = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(header), Buffer.of(command), Buffer.from(tail)]);
}
