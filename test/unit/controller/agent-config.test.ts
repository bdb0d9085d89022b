import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentValues } from '../../../src/controller/agent-config.ts';
import { ConfigError } from '../../../src/api/issues.ts';

const chartFile = `image: registry.example/kubelived:0.1.0
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: node-role.kubernetes.io/control-plane
    operator: Exists
    effect: NoSchedule
resources:
  requests: { cpu: 50m, memory: 96Mi }
  limits: { memory: 256Mi }
`;

test('the chart\'s agent values are read as given; --agent-image wins over the file, the file over the default', () => {
  const v = parseAgentValues(chartFile, 'agent.yaml', 'kubelived:default');
  assert.deepEqual(v, {
    image: 'registry.example/kubelived:0.1.0',
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
  });
  assert.equal(parseAgentValues(chartFile, 'agent.yaml', 'kubelived:default', 'mine:1').image, 'mine:1');
  assert.equal(parseAgentValues('{}', 'agent.json', 'kubelived:default').image, 'kubelived:default');
  assert.deepEqual(parseAgentValues('', 'empty.yaml', 'd:1'), { image: 'd:1', nodeSelector: {}, tolerations: [], resources: {} });
});

test('every problem in the agent values is named with its field', () => {
  const bad = `imag: x
nodeSelector: { a: 1 }
tolerations:
  - { operator: Sometimes, effect: NoRun }
  - { operator: Exists, value: v }
resources:
  requests: { cpu: lots }
`;
  assert.throws(() => parseAgentValues(bad, 'agent.yaml', 'd:1'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.issues.map((i) => i.field), [
      'imag', 'nodeSelector.a', 'tolerations[0].operator', 'tolerations[0].effect', 'tolerations[1].value', 'resources.requests.cpu',
    ]);
    assert.ok(e.issues.every((i) => i.where === 'agent.yaml'));
    return true;
  });
  assert.throws(() => parseAgentValues('- a list', 'agent.yaml', 'd:1'), /must be a mapping, got a list/);
  assert.throws(() => parseAgentValues('a: [', 'agent.yaml', 'd:1'), /agent.yaml: \(yaml\)/);
});
