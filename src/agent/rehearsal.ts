// A dry run of a router's takeover, yield and shutdown, with its actions thrown away.
//
// V8 compiles a function the first time it runs, and a backup may wait days before it first
// takes over: left cold, the first takeover and the first priority-0 advert each cost a few
// milliseconds of compilation on top of the RFC's timers. Rehearsing once at start-up, with no
// I/O at all (the router is sans-I/O), makes the real ones run warm.
import { VrrpRouter } from '../vrrp/router.ts';
import type { RouterConfig, State } from '../vrrp/router.ts';
import { isUnicast } from '../vrrp/config.ts';
import { encodeAdvert, multicastGroup, passwordAuthData } from '../vrrp/packet.ts';

/** Returns the states the rehearsal went through, so callers can see it covered the paths. */
export function rehearse(real: RouterConfig): State[] {
  const standIn = real.family === 4 ? '0.0.0.1' : 'fe80::1';
  // A unicast router alone (no peers yet) hears its first rival once it has peers: rehearse it
  // with the stand-in as its peer, or the rival's advert below would be dropped as unknown.
  const config = isUnicast(real) && real.unicastPeers.length === 0 ? { ...real, unicastPeers: [standIn] } : real;
  const router = new VrrpRouter(config);
  const visited: State[] = [];
  let now = 0;
  const drain = (): void => {
    for (let a = router.pollAction(); a; a = router.pollAction()) if (a.kind === 'transition') visited.push(a.to);
  };
  const runUntil = (state: State): void => {
    for (let t = router.nextTimeout(), i = 0; router.state !== state && t !== undefined && i < 16; t = router.nextTimeout(), i++) {
      now = t;
      router.timeout(now);
      drain();
    }
  };
  router.start(now);
  drain();
  runUntil('Master');
  // A higher-priority rival, from where a real one would be: a configured peer, or the group.
  const unicast = isUnicast(config);
  const rival = config.unicastPeers[0] ?? standIn;
  const dst = unicast ? config.localAddress : multicastGroup(config.family);
  const advert = encodeAdvert({
    version: config.version, vrid: config.vrid, priority: 255, intervalCs: config.advertIntervalCs,
    addresses: config.virtualIPs,
    ...(config.authPassword !== undefined ? { authType: 1 as const, authData: passwordAuthData(config.authPassword) } : {}),
  }, { family: config.family, src: rival, dst });
  now += 1;
  router.receive(advert, { src: rival, dst, ttl: 255 }, now);
  drain();
  router.shutdown(now);
  drain();
  return visited;
}
