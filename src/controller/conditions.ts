// metav1.Conditions as the controller writes them: lastTransitionTime moves only when the
// status flips (Kubernetes API conventions), so recomputing an unchanged object yields the same
// conditions byte for byte and a controller restart writes nothing. Condition changes worth a
// human's attention also become Events.
import { kubeTime } from '../kube/resources.ts';
import type { EventType } from '../kube/events.ts';
import type { Condition } from './objects.ts';

export interface DesiredCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export function mergeConditions(existing: readonly Condition[] | undefined, desired: readonly DesiredCondition[], generation: number | undefined, now: number): Condition[] {
  return desired.map((d) => {
    const old = existing?.find((c) => c.type === d.type);
    const lastTransitionTime = old && old.status === d.status ? old.lastTransitionTime : kubeTime(now);
    return { ...d, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  });
}

/** Same conditions, in any order. */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const o = y.find((d) => d.type === c.type);
    return o !== undefined && o.status === c.status && o.reason === c.reason && o.message === c.message
      && o.lastTransitionTime === c.lastTransitionTime && o.observedGeneration === c.observedGeneration;
  });
}

export interface ConditionEvent {
  type: EventType;
  reason: string;
  note: string;
}

/** The Events a change of conditions deserves: rejections, split brains, degradations and their ends. */
export function conditionEvents(before: readonly Condition[] | undefined, after: readonly Condition[]): ConditionEvent[] {
  const out: ConditionEvent[] = [];
  const get = (list: readonly Condition[] | undefined, type: string): Condition | undefined => list?.find((c) => c.type === type);
  const accepted = { old: get(before, 'Accepted'), now: get(after, 'Accepted') };
  if (accepted.now?.status === 'False' && (accepted.old?.status !== 'False' || accepted.old.reason !== accepted.now.reason || accepted.old.message !== accepted.now.message)) {
    out.push({ type: 'Warning', reason: accepted.now.reason, note: accepted.now.message });
  } else if (accepted.now?.status === 'True' && accepted.old?.status === 'False') {
    out.push({ type: 'Normal', reason: 'Accepted', note: accepted.now.message });
  }
  const split = { old: get(before, 'SplitBrain'), now: get(after, 'SplitBrain') };
  if (split.now?.status === 'True' && split.old?.status !== 'True') out.push({ type: 'Warning', reason: 'SplitBrain', note: split.now.message });
  else if (split.now?.status === 'False' && split.old?.status === 'True') out.push({ type: 'Normal', reason: 'SplitBrainResolved', note: split.now.message });
  const degraded = { old: get(before, 'Degraded'), now: get(after, 'Degraded') };
  if (degraded.now?.status === 'True' && (degraded.old?.status !== 'True' || degraded.old.reason !== degraded.now.reason)) {
    out.push({ type: 'Warning', reason: degraded.now.reason, note: degraded.now.message });
  } else if (degraded.now?.status === 'False' && degraded.old?.status === 'True') {
    out.push({ type: 'Normal', reason: 'Recovered', note: degraded.now.message });
  }
  return out;
}
