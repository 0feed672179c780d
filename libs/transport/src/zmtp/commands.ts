/** A ZMTP command's body: a 1-byte name size, the name, then its data (RFC 37 §"Commands"). */
export function encodeCommand(name: string, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), data]);
}

/** A command's name and data, or undefined when the body is not a well-formed command. */
export function parseCommand(body: Buffer): { readonly name: string; readonly data: Buffer } | undefined {
  const size = body[0];
  if (size === undefined || size === 0 || body.length < 1 + size) return undefined;
  return { name: body.toString('latin1', 1, 1 + size), data: body.subarray(1 + size) };
}

/** READY/INITIATE metadata: properties as a 1-byte name size, name, 4-byte value size, value. */
export function encodeMetadata(properties: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(Buffer.byteLength(value, 'latin1'));
    parts.push(Buffer.from([name.length]), Buffer.from(name, 'latin1'), size, Buffer.from(value, 'latin1'));
  }
  return Buffer.concat(parts);
}

/** Properties of a metadata block (names lower-cased, as they are case-insensitive); undefined when malformed. */
export function parseMetadata(data: Buffer): Map<string, string> | undefined {
  const properties = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const nameSize = data[at]!;
    if (nameSize === 0 || at + 1 + nameSize + 4 > data.length) return undefined;
    const name = data.toString('latin1', at + 1, at + 1 + nameSize).toLowerCase();
    at += 1 + nameSize;
    const valueSize = data.readUInt32BE(at);
    at += 4;
    if (at + valueSize > data.length) return undefined;
    properties.set(name, data.toString('latin1', at, at + valueSize));
    at += valueSize;
  }
  return properties;
}

/** Peers an XPUB serves (RFC 37 §"Socket compatibility"). */
const SUBSCRIBER_TYPES = new Set(['SUB', 'XSUB']);

/** True when READY metadata names a socket type that may talk to an XPUB. */
export function isSubscriberSocket(properties: Map<string, string>): boolean {
  return SUBSCRIBER_TYPES.has(properties.get('socket-type') ?? '');
}
