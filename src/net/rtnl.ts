import {
  native,
  type AddAddressOptions,
  type AddressInfo,
  type AddressFilter,
  type DeleteAddressOptions,
  type Link,
  type NativeRtnl,
  type RtnlEvent,
  type SubscribeOptions,
} from './native.ts';
import type { NetError } from './errors.ts';

export type {
  AddAddressOptions,
  AddressInfo,
  AddressEvent,
  AddressFilter,
  DeleteAddressOptions,
  Link,
  LinkEvent,
  OperState,
  OverrunEvent,
  RtnlEvent,
  SubscribeOptions,
} from './native.ts';

/** AddressInfo.validLft / preferredLft of an address that never expires. */
export const FOREVER = 0xffffffff;

/** The IFA_F_* bits of AddressInfo.flags that matter here. */
export const AddressFlags = {
  secondary: 0x01,
  nodad: 0x02,
  dadfailed: 0x08,
  deprecated: 0x20,
  tentative: 0x40,
  permanent: 0x80,
} as const;

/**
 * rtnetlink: addresses and links of the current network namespace. Every method returns a
 * Promise, rejected with a NetError for kernel errors and with a TypeError
 * (code ERR_INVALID_ARG_VALUE) for bad arguments.
 */
export class Rtnl {
  readonly #rtnl: NativeRtnl = new native.Rtnl();

  async listAddresses(filter?: AddressFilter): Promise<AddressInfo[]> {
    return this.#rtnl.listAddresses(filter);
  }

  /** Rejects with EEXIST when the address exists, unless replace is set. */
  async addAddress(options: AddAddressOptions): Promise<void> {
    return this.#rtnl.addAddress(options);
  }

  /** Rejects with EADDRNOTAVAIL when there is no such address. */
  async deleteAddress(options: DeleteAddressOptions): Promise<void> {
    return this.#rtnl.deleteAddress(options);
  }

  async listLinks(): Promise<Link[]> {
    return this.#rtnl.listLinks();
  }

  /** Rejects with ENODEV when there is no such link. */
  async getLink(nameOrIndex: string | number): Promise<Link> {
    return this.#rtnl.getLink(nameOrIndex);
  }

  async ifindexOf(name: string): Promise<number> {
    return (await this.getLink(name)).ifindex;
  }

  /**
   * Link and address changes, from now until close(). An 'overrun' event means events were
   * lost: list again. Without onError a socket error is thrown as an uncaught exception.
   * Throws (synchronously) EALREADY when already subscribed.
   */
  subscribe(
    onEvent: (event: RtnlEvent) => void,
    onError: (err: NetError) => void = (err) => {
      throw err;
    },
    options?: SubscribeOptions,
  ): void {
    this.#rtnl.subscribe(onEvent, onError, options);
  }

  /** Closes both sockets; pending requests reject with ECANCELED. Idempotent. */
  close(): void {
    this.#rtnl.close();
  }
}
