/** Interop with Python's grpcio: this project's own client (grpcio_client.py) against the core server. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT, spawnCore } from '../helpers/core.js';
import { assertCanonicalAnswers, requireToolchain, runClient } from './official-client.js';

/** Debian's python3-grpcio / python3-grpc-tools are installed for this interpreter, not for pyenv's. */
const PYTHON = '/usr/bin/python3';
/** Our own grpcio client (not a copy of the gRPC example). */
const CLIENT = join(REPO_ROOT, 'test/interop/grpcio_client.py');

/** Why the Python client cannot run here, or null when `import grpc, grpc_tools` works. */
function pythonGrpcUnavailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return `${PYTHON} cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) {
    return `${PYTHON} cannot import grpc, grpc_tools (install python3-grpcio and python3-grpc-tools): ${probe.stderr.trim().split('\n').at(-1)}`;
  }
  return null;
}

describe('a grpcio (Python) RouteGuide client (interop)', () => {
  test('our grpcio client gets the canonical answers from our core server', async (t) => {
    if (!requireToolchain(t, 'Python', pythonGrpcUnavailable())) return;
    const core = await spawnCore();
    try {
      assertCanonicalAnswers(await runClient('Python client', PYTHON, [CLIENT, core.address], 60_000));
    } finally {
      await core.stop();
    }
  });
});
