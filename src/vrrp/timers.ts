// The protocol's timer arithmetic, in milliseconds (floats: the RFC values are exact binary
// fractions of the interval, e.g. 609.375 ms of skew at priority 100 and 1 s).
//
// VRRPv3 (RFC 5798 §6.1): Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 and
// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, in centiseconds, with
// Master_Adver_Interval learned from the master's adverts.
// VRRPv2 (RFC 3768 §6.1): Skew_Time = (256 - Priority) / 256 seconds, whatever the interval, and
// Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time.
import type { VrrpVersion } from './packet.ts';

export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  return version === 3 ? ((256 - priority) * masterAdverIntervalCs * 10) / 256 : ((256 - priority) * 1000) / 256;
}

export function masterDownIntervalMs(version: VrrpVersion, priority: number, masterAdverIntervalCs: number): number {
  return 3 * masterAdverIntervalCs * 10 + skewTimeMs(version, priority, masterAdverIntervalCs);
}
