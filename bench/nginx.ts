/**
 * nginx in the bench: the reference proxy (configs.ts) and shadow mode's modern stand-in
 * (modern.ts). One worker; everything it writes (pid, logs, temp files) stays in its own dir
 * under the bench's temp dir.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, hasCommand, startChild, stopChild, waitFor, type Child } from './procs.js';

/** Why nginx cannot run here, or undefined when it is installed. */
export function nginxMissing(): string | undefined {
  return hasCommand('nginx') ? undefined : 'nginx is not installed (apt-get install -y nginx)';
}

export interface NginxOptions {
  cpu: number | undefined;
  idle?: boolean;
  /** The http block's own directives (access log, upstreams, the server), given the port to listen on and nginx's dir. */
  http(port: number, dir: string): string;
  /** Files for nginx to serve, by name, written into its dir (readable by its worker). */
  files?: Record<string, Buffer>;
  /** Whether nginx answers as it should yet. */
  ready(url: string): Promise<boolean>;
}

export interface Nginx {
  url: string;
  child: Child;
  dir: string;
  stop(): Promise<void>;
}

export async function startNginx(name: string, tmp: string, options: NginxOptions): Promise<Nginx> {
  const dir = join(tmp, name.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  // When run as root, nginx's worker drops to "nobody": it must be able to enter the dirs and read the files.
  chmodSync(tmp, 0o755);
  chmodSync(dir, 0o777);
  for (const [file, bytes] of Object.entries(options.files ?? {})) writeFileSync(join(dir, file), bytes, { mode: 0o644 });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, options.http(port, dir)));
  const child = startChild(name, 'nginx', ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], {
    cpu: options.cpu,
    idle: options.idle,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(child, 10_000, 'nginx answering', async () => ((await options.ready(url)) ? true : undefined));
  return { url, child, dir, stop: () => stopChild(child) };
}

function nginxConf(dir: string, http: string): string {
  return `# Written by bench/nginx.ts for one bench run.
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # The default (1000 requests per connection) would make nginx alone reconnect mid-run.
  keepalive_requests 1000000;
  keepalive_timeout 65s;
${http}
}
`;
}
