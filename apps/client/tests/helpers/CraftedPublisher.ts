// A publisher whose sequence numbers the test chooses, to make a subscriber see a gap
// (protocol/FRAMES.md §3.4) deterministically: the frames are built by hand from the transport's
// public header encoder and the codec.
import { MessageCodec, newRequestId } from '@correio/codec';
import type { ChatPublication } from '@correio/protocol';
import { encodePublicationHeader, openSocket, topic, type ManagedSocket } from '@correio/transport';

export class CraftedPublisher {
  readonly #socket: ManagedSocket;
  readonly #codec = new MessageCodec();

  constructor(
    proxyPub: string,
    readonly id = 'crafted-pub',
  ) {
    this.#socket = openSocket('pub', { linger: 0 });
    this.#socket.connect(proxyPub);
  }

  /** Sends `publication` on its channel's topic as body number `seq` of this publisher's stream. */
  async send(publication: ChatPublication, seq: number): Promise<void> {
    const envelope = this.#codec.encode({ v: 1, type: 'chat.publication', id: newRequestId(), from: this.id, lc: publication.lc, ts: publication.ts, body: publication });
    await this.#socket.send([topic('chan', publication.channel), encodePublicationHeader({ p: this.id, s: seq, n: 1 }), envelope]);
  }

  close(): Promise<void> {
    return this.#socket.close();
  }
}
