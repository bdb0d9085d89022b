import { native, type NativeVrrpSocket, type VrrpMessage, type VrrpSocketOptions } from './native.ts';
import type { NetError } from './errors.ts';

export type { VrrpMessage, VrrpSocketOptions } from './native.ts';

/**
 * A raw IPPROTO_VRRP socket bound to one interface and address family: TTL / hop limit 255,
 * multicast loop off, 224.0.0.18 / ff02::12 joined when multicast. The caller builds and
 * checks VRRP messages (checksums included); received messages arrive through onMessage,
 * all queued ones on each readiness of the socket. Receive errors arrive through onError (none
 * are expected); the socket keeps working.
 */
export class VrrpSocket {
  readonly #socket: NativeVrrpSocket;

  private constructor(socket: NativeVrrpSocket) {
    this.#socket = socket;
  }

  /** Throws a NetError (ENODEV for an unknown interface, EPERM without CAP_NET_RAW). */
  static open(
    options: VrrpSocketOptions,
    onMessage: (message: VrrpMessage) => void,
    onError: (err: NetError) => void,
  ): VrrpSocket {
    return new VrrpSocket(new native.VrrpSocket(options, onMessage, onError));
  }

  get ifindex(): number {
    return this.#socket.ifindex;
  }

  /**
   * Sends one VRRP message to dst from src (the address the checksum pseudo-header used; the
   * kernel's choice when omitted). Synchronous and non-blocking: throws a NetError when the
   * datagram was not sent.
   */
  send(payload: Uint8Array, dst: string, src?: string): void {
    this.#socket.send(payload, dst, src);
  }

  /** Idempotent; no callback runs after it. */
  close(): void {
    this.#socket.close();
  }
}
