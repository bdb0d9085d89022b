// Service flag bits of include/uapi/linux/ip_vs.h (IP_VS_SVC_F_*).
import type { SchedulerFlag } from '../api/virtual-server.ts';

export const IP_VS_SVC_F_PERSISTENT = 0x0001;
/** Set by the kernel on every service it holds; never sent, ignored when comparing. */
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;
export const IP_VS_SVC_F_SCHED1 = 0x0008;
export const IP_VS_SVC_F_SCHED2 = 0x0010;
export const IP_VS_SVC_F_SCHED3 = 0x0020;

/**
 * ipvsadm's --sched-flags names: the kernel has three anonymous scheduler bits, and each
 * scheduler gives them its own meaning (ip_vs_sh.c, ip_vs_mh.c).
 */
export const SCHEDULER_FLAG_BITS: Readonly<Record<SchedulerFlag, number>> = {
  'sh-fallback': IP_VS_SVC_F_SCHED1,
  'sh-port': IP_VS_SVC_F_SCHED2,
  'mh-fallback': IP_VS_SVC_F_SCHED1,
  'mh-port': IP_VS_SVC_F_SCHED2,
};

/** The flags of a service as we set them and compare them (without HASHED). */
export function configFlags(flags: number): number {
  return flags & ~IP_VS_SVC_F_HASHED;
}
