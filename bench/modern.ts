/**
 * Shadow mode's modern side in the bench (gw-shadow): a stand-in for a service on other hosts,
 * answering the copies as the shared backend answers legacy (the same bodies and content types,
 * so every copy matches), at idle priority on the client CPU.
 *
 * nginx when installed: it answers a copy for a fraction of a node:http backend's CPU, and on a
 * two-CPU machine whatever the stand-in spends is taken from the load generator and legacy, and
 * shows as client latency the gateway does not cause (at idle priority too: a kernel without
 * preemption finishes the stand-in's socket work before it switches). Otherwise, or with
 * `--shadow-modern=node`, a second backend.ts process.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ONE_MB_BODY, ONE_MB_TYPE, SMALL_BODY, SMALL_TYPE } from './bodies.js';
import { freePort, hasCommand, probe, startBackend, startChild, stopChild, waitFor, type Placement } from './procs.js';

export type ShadowModern = 'nginx' | 'node';

export interface Modern {
  url: string;
  stop(): Promise<void>;
}

/** What `--shadow-modern` defaults to here. */
export function defaultShadowModern(): ShadowModern {
  return hasCommand('nginx') ? 'nginx' : 'node';
}

export async function startModern(kind: ShadowModern, placement: Placement, tmp: string, name: string): Promise<Modern> {
  if (kind === 'node') return startBackend(placement, name, true);
  const dir = join(tmp, 'modern-nginx');
  mkdirSync(dir, { recursive: true });
  // When run as root, nginx's worker drops to "nobody": it must be able to enter the dirs and read the body.
  chmodSync(tmp, 0o755);
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, '1mb'), ONE_MB_BODY, { mode: 0o644 });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, modernConf(dir, port));
  const child = startChild(name, 'nginx', ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], {
    cpu: placement.clientCpu,
    idle: true,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(child, 10_000, 'modern answering', async () => ((await probe(url + '/api/items/1')).body === SMALL_BODY.toString() ? true : undefined));
  return { url, stop: () => stopChild(child) };
}

/** The backend's routes that shadow mode's route copies: …/1mb, and a small JSON body for anything else. */
function modernConf(dir: string, port: number): string {
  return `# Written by bench/modern.ts for one bench run: shadow mode's modern stand-in.
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
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
  }
}
`;
}
