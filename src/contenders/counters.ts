// The counters a JS server keeps, in the shape the control channel reports (ServerStats).

import { measures, type Protocol } from '../wire/protocols.js';
import type { ServerStats } from './contender-contract.js';

/** Plain mutable counters a JS server increments; snapshot() turns them into ServerStats. */
export class Counters {
  connectionsNow = 0;
  connectionsTotal = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  protocolErrors = 0;
  readonly #messages: boolean;
  readonly #bytes: boolean;

  constructor(protocol: Protocol) {
    const m = measures(protocol);
    this.#messages = m.messages;
    this.#bytes = m.bytes;
  }

  snapshot(extra: Record<string, number> = {}): ServerStats {
    return {
      connectionsNow: this.connectionsNow,
      connectionsTotal: this.connectionsTotal,
      messagesIn: this.#messages ? this.messagesIn : null,
      messagesOut: this.#messages ? this.messagesOut : null,
      bytesIn: this.#bytes ? this.bytesIn : null,
      bytesOut: this.#bytes ? this.bytesOut : null,
      protocolErrors: this.protocolErrors,
      extra,
    };
  }
}
