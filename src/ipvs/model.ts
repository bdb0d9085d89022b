// What the kernel holds after a plan was applied without error, computed instead of dumped:
// a one-object change then costs one operation, not a dump of every service. The reconciler
// still dumps at start, after any failure, while real servers drain (it needs their
// connection counts) and periodically, to notice changes made behind its back.
import { destinationKeyString, serviceKeyString } from './keys.ts';
import type { DumpedService, IpvsOperation } from './types.ts';

export function applyToDump(dump: readonly DumpedService[], ops: readonly IpvsOperation[]): DumpedService[] {
  const services = new Map<string, DumpedService>();
  for (const s of dump) services.set(serviceKeyString(s.key), { ...s, destinations: [...s.destinations] });
  for (const op of ops) {
    switch (op.op) {
      case 'addService':
        services.set(serviceKeyString(op.service.key), { ...op.service, destinations: [] });
        break;
      case 'editService': {
        const s = services.get(serviceKeyString(op.service.key));
        if (s) services.set(serviceKeyString(op.service.key), { ...op.service, destinations: s.destinations });
        break;
      }
      case 'deleteService':
        services.delete(serviceKeyString(op.key));
        break;
      default: {
        const s = services.get(serviceKeyString(op.service));
        if (!s) break;
        const key = destinationKeyString(op.destination);
        const rest = s.destinations.filter((d) => destinationKeyString(d) !== key);
        const old = s.destinations.find((d) => destinationKeyString(d) === key);
        s.destinations = op.op === 'deleteDestination' ? rest : [...rest, {
          ...op.destination,
          activeConns: old?.activeConns ?? 0, inactiveConns: old?.inactiveConns ?? 0, persistConns: old?.persistConns ?? 0,
        }];
      }
    }
  }
  return [...services.values()];
}
