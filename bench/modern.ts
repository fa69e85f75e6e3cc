/**
 * Shadow mode's modern side in the bench (gw-shadow): a stand-in for a service on other hosts,
 * answering the copies as the shared backend answers legacy (the same bodies and content types,
 * so every copy matches), at idle priority on the client CPU.
 *
 * nginx when installed: it answers a copy for a fraction of a node:http backend's CPU. On a
 * two-CPU machine whatever the stand-in spends is taken from the load generator and legacy and
 * shows as client latency the gateway does not cause, even at idle priority (a kernel built
 * without preemption lets the stand-in finish its socket work before the client's thread runs).
 * Otherwise, or with `--shadow-modern=node`, a second backend.ts process.
 */
import { ONE_MB_BODY, ONE_MB_TYPE, SMALL_BODY, SMALL_TYPE } from './bodies.js';
import { nginxMissing, startNginx } from './nginx.js';
import { probe, startBackend, type Placement } from './procs.js';

export type ShadowModern = 'nginx' | 'node';

export interface Modern {
  url: string;
  stop(): Promise<void>;
}

/** What `--shadow-modern` defaults to here. */
export function defaultShadowModern(): ShadowModern {
  return nginxMissing() === undefined ? 'nginx' : 'node';
}

export async function startModern(kind: ShadowModern, placement: Placement, tmp: string, name: string): Promise<Modern> {
  if (kind === 'node') return startBackend(placement, name, true);
  const nginx = await startNginx(name, tmp, {
    cpu: placement.clientCpu,
    idle: true,
    files: { '1mb': ONE_MB_BODY },
    http: (port, dir) => modernConf(dir, port),
    ready: async (url) => (await probe(url + '/api/items/1')).body === SMALL_BODY.toString(),
  });
  return { url: nginx.url, stop: nginx.stop };
}

/** The backend's routes that shadow mode's route copies: …/1mb, and a small JSON body for anything else. */
function modernConf(dir: string, port: number): string {
  return `  access_log off;
  server {
    listen 127.0.0.1:${port};
    location ~ /1mb$ {
      default_type ${ONE_MB_TYPE};
      alias ${dir}/1mb;
    }
    location / {
      default_type ${SMALL_TYPE};
      return 200 '${SMALL_BODY.toString()}';
    }
  }`;
}
