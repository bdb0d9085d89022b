// Messages between the agent's main thread and its VRRP thread (worker_threads). Plain data
// only: they cross the thread boundary by structured clone.
import type { Family } from '../api/address.ts';

/** A stopping master keeps its VIPs until its successor advertises, at most this long. */
export const MAX_HAND_OVER_MS = 5000;

/** Everything the VRRP thread needs to run one instance on this node. */
export interface InstancePlan {
  name: string;
  /** Undefined: the interface holding an address in the first VIP's subnet. */
  ifname: string | undefined;
  family: Family;
  vrid: number;
  version: 2 | 3;
  priority: number;
  vips: { address: string; prefixLen: number }[];
  advertIntervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  authPassword: string | undefined;
  /** Adverts go to unicastPeers, even none (a node alone), rather than to the multicast group. */
  unicast: boolean;
  /** Changes to it apply in place while `unicast` stays the same. */
  unicastPeers: string[];
  tracks: { name: string; weight: number; up: boolean }[];
  garp: { repeat: number; delayMs: number; refreshMs: number };
}

export type ToVrrpThread =
  | { type: 'configure'; plans: InstancePlan[] }
  | { type: 'track'; instance: string; track: string; up: boolean }
  | { type: 'shutdown' };

export interface InstanceSnapshot {
  name: string;
  state: string;
  effectivePriority: number;
  masterIP: string | undefined;
  advertsSent: number;
  advertsReceived: number;
  drops: Record<string, number>;
}

/** A state change of one instance on this node. */
export interface TransitionMessage {
  type: 'transition';
  instance: string;
  from: string;
  to: string;
  reason: string;
  masterIP: string | undefined;
  /** The priority the node advertises in its new state (tracks included). */
  effectivePriority: number;
  failoverMs: number | undefined;
}

export type FromVrrpThread =
  | TransitionMessage
  | { type: 'snapshot'; instances: InstanceSnapshot[]; timerLatenessMs: number; unknownVridDrops: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> }
  | { type: 'configured' }
  | { type: 'stopped' };
