import { isIPv6 } from 'node:net';
import { native, type GratuitousArpOptions, type NativeAnnouncer, type UnsolicitedNaOptions } from './native.ts';

export type { GratuitousArpOptions, UnsolicitedNaOptions } from './native.ts';

export interface AnnounceOptions extends UnsolicitedNaOptions {
  /** The address family; taken from the address when omitted. */
  family?: 4 | 6;
  /** How many copies to send back to back (keepalived sends 5); 1 by default. */
  repeat?: number;
}

/**
 * Tells a segment which MAC owns an address: a gratuitous ARP (IPv4) or an unsolicited
 * neighbour advertisement with the Override flag (IPv6). The Ethernet source is always the
 * interface's own MAC; `mac` only changes what is announced (e.g. a yielding node pointing
 * clients at the new master). Sends throw a NetError when the packet was not sent.
 */
export class Announcer {
  readonly #announcer: NativeAnnouncer = new native.Announcer();

  /** Gratuitous ARP or unsolicited NA by address family, `repeat` times. */
  announce(options: AnnounceOptions): void {
    const { ifindex, address, mac, router } = options;
    const v6 = options.family === undefined ? isIPv6(address) : options.family === 6;
    for (let i = 0; i < (options.repeat ?? 1); i++) {
      if (v6) {
        this.sendUnsolicitedNa({ ifindex, address, mac, router });
      } else {
        this.sendGratuitousArp({ ifindex, address, mac });
      }
    }
  }

  sendGratuitousArp(options: GratuitousArpOptions): void {
    this.#announcer.sendGratuitousArp(options);
  }

  sendUnsolicitedNa(options: UnsolicitedNaOptions): void {
    this.#announcer.sendUnsolicitedNa(options);
  }

  /** Closes the packet sockets (opened on first use). Idempotent. */
  close(): void {
    this.#announcer.close();
  }
}

let shared: Announcer | undefined;

/**
 * announce() on an Announcer shared by this thread. Its sockets stay open for the thread's
 * life (they hold no event-loop handle, and the addon closes them when the thread exits).
 */
export function announce(options: AnnounceOptions): void {
  shared ??= new Announcer();
  shared.announce(options);
}
