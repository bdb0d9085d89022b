// Runs the deterministic multi-router simulation (scenarios and assertions: sim-scenario.ts)
// over many seeds. A failure names its seed; replay it alone with
//   VRRP_SIM_SEED=<seed> VRRP_SIM_SEEDS=1 npx node --test test/unit/vrrp/simulation.test.ts
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScenario, scenario, type Counters } from './sim-scenario.ts';

const FIRST_SEED = Number(process.env.VRRP_SIM_SEED ?? 1);
const SEEDS = Number(process.env.VRRP_SIM_SEEDS ?? 300);

describe('deterministic multi-router simulation', () => {
  it(`${SEEDS} seeds from ${FIRST_SEED} (replay one with VRRP_SIM_SEED=n VRRP_SIM_SEEDS=1)`, () => {
    const counters: Counters = { epochs: 0, crashTimings: 0, shutdownTimings: 0, healAnnounces: 0, transitions: 0, lost: 0 };
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) runScenario(scenario(seed), counters);
    console.log(`simulation: ${JSON.stringify(counters)}`);
    if (SEEDS >= 100) {
      // The random scripts must actually exercise the timing checks.
      assert.ok(counters.crashTimings > 20 && counters.shutdownTimings > 20 && counters.healAnnounces > 10, JSON.stringify(counters));
    }
  });
});
