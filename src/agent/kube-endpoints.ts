// A VirtualServer's backendRef in Kubernetes mode: the ready endpoints of a Service's
// EndpointSlices become real servers. EndpointSlices name their ports after the Service's
// ports (and carry the target port numbers), so a backendRef by Service port number needs the
// Service to find that port's name. Pure: the caller passes the objects.
import { parseAddress } from '../api/address.ts';
import { isObj } from '../api/fields.ts';
import type { Obj } from '../api/fields.ts';
import type { BackendRef, RealServer, VirtualServer } from '../api/virtual-server.ts';

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The real servers of a backendRef, or the reason they cannot be known (naming the field). */
export type Backends = { ok: true; servers: RealServer[] } | { ok: false; field: string; message: string };

/**
 * `service` is the Service named by the backendRef (undefined when it does not exist), `slices`
 * its EndpointSlices. Unready and terminating endpoints are left out; an endpoint's first
 * address is the one used (the API allows consumers to use only the first). Sorted, so the
 * result changes only when the endpoints do.
 */
export function backendServers(vs: VirtualServer, ref: BackendRef, service: Obj | undefined, slices: readonly Obj[]): Backends {
  const s = vs.spec;
  const protocol = s.key.protocol ?? 'TCP';
  const field = 'spec.backendRef';
  const id = `Service ${vs.namespace}/${ref.name}`;
  if (!service) return { ok: false, field: `${field}.name`, message: `${id} not found` };
  const ports = list(isObj(service.spec) ? service.spec.ports : undefined);
  let portName: string;
  if (ref.port === undefined) {
    if (ports.length !== 1) return { ok: false, field: `${field}.port`, message: `required: ${id} has ${ports.length} ports` };
    portName = str(ports[0]?.name);
  } else if (typeof ref.port === 'string') {
    if (!ports.some((p) => p.name === ref.port)) return { ok: false, field: `${field}.port`, message: `${id} has no port named ${ref.port}` };
    portName = ref.port;
  } else {
    const p = ports.find((x) => x.port === ref.port && (str(x.protocol) || 'TCP') === protocol)
      ?? (s.key.fwmark !== undefined ? ports.find((x) => x.port === ref.port) : undefined);
    if (!p) return { ok: false, field: `${field}.port`, message: `${id} has no ${s.key.fwmark !== undefined ? '' : `${protocol} `}port ${ref.port}` };
    portName = str(p.name);
  }

  const servers = new Map<string, RealServer>();
  for (const slice of slices) {
    const family = slice.addressType === 'IPv4' ? 4 : slice.addressType === 'IPv6' ? 6 : undefined;
    // FQDN slices have no addresses IPVS could use; NAT and DR need the service's family.
    if (family === undefined || (family !== s.key.family && s.forwarding !== 'TUN')) continue;
    const port = list(slice.ports).find((p) => str(p.name) === portName);
    if (!port || typeof port.port !== 'number') continue;
    if (s.forwarding !== 'NAT' && s.key.fwmark === undefined && port.port !== s.key.port) {
      return { ok: false, field: `${field}.port`, message: `${s.forwarding} cannot change the destination port, but ${id} port ${portName || ref.port} targets ${port.port} (service port ${s.key.port})` };
    }
    for (const ep of list(slice.endpoints)) {
      const conditions = isObj(ep.conditions) ? ep.conditions : {};
      // ready unset means ready (the API's rule); terminating endpoints are not ready.
      if (conditions.ready === false || conditions.terminating === true) continue;
      const first = Array.isArray(ep.addresses) ? (ep.addresses as unknown[])[0] : undefined;
      const addr = typeof first === 'string' ? parseAddress(first) : undefined;
      if (!addr) continue;
      const rs: RealServer = { address: addr.address, family: addr.family, port: port.port, weight: 1, upperThreshold: 0, lowerThreshold: 0 };
      servers.set(`${rs.address} ${rs.port}`, rs);
    }
  }
  return { ok: true, servers: [...servers.values()].sort(byAddressPort) };
}

/** The VirtualServer with its backendRef's servers added after the listed ones (which win a tie). */
export function withBackends(vs: VirtualServer, servers: readonly RealServer[]): VirtualServer {
  const listed = new Set(vs.spec.realServers.map((r) => `${r.address} ${r.port}`));
  const extra = servers.filter((r) => !listed.has(`${r.address} ${r.port}`));
  return extra.length === 0 ? vs : { ...vs, spec: { ...vs.spec, realServers: [...vs.spec.realServers, ...extra] } };
}

function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function byAddressPort(a: RealServer, b: RealServer): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}
