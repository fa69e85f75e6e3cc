import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';

/**
 * A real third-party application for differential tests: httpbin (Debian's `python3-httpbin`)
 * run by gunicorn (`python3-gunicorn`), both installed by `.ci/run`. Sync workers: each answer
 * closes its connection (`Connection: close`), the way many WSGI deployments run.
 */
export interface Httpbin {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The gunicorn binary (Debian ships `gunicorn`, older releases `gunicorn3`), or undefined. */
export function findGunicorn(): string | undefined {
  for (const name of ['gunicorn', 'gunicorn3']) {
    const found = spawnSync(name, ['--version'], { encoding: 'utf8' });
    if (found.status === 0) return name;
  }
  return undefined;
}

/** Why httpbin cannot run here, or undefined when it can. */
export function httpbinMissing(): string | undefined {
  const gunicorn = findGunicorn();
  if (gunicorn === undefined) return 'gunicorn is not installed (apt-get install python3-gunicorn)';
  // gunicorn's own interpreter must import httpbin: ask it through gunicorn's --check-config.
  const check = spawnSync(gunicorn, ['--check-config', 'httpbin:app'], { encoding: 'utf8' });
  if (check.status !== 0) return `httpbin is not importable by ${gunicorn} (apt-get install python3-httpbin): ${check.stderr.trim().split('\n').at(-1)}`;
  return undefined;
}

/** A port free right now on loopback (gunicorn cannot bind port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts httpbin on a free loopback port and waits until it answers. */
export async function startHttpbin(workers = 4): Promise<Httpbin> {
  const gunicorn = findGunicorn();
  if (gunicorn === undefined) throw new Error('gunicorn is not installed');
  const port = await freePort();
  // Its own process group, so the arbiter and every worker can be ended together, even after a crash.
  const child = spawn(gunicorn, ['--bind', `127.0.0.1:${port}`, '--workers', String(workers), '--graceful-timeout', '2', '--log-level', 'warning', 'httpbin:app'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = () => stopChild(child);
  try {
    await waitForPort(port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, port, stop };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`gunicorn exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status/204`);
      if (res.status === 204) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`httpbin did not answer on port ${port}: ${stderr()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  if (child.exitCode !== null || child.signalCode !== null) {
    group('SIGKILL'); // workers a dead arbiter left behind
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => group('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      group('SIGKILL');
      resolve();
    });
    group('SIGTERM'); // gunicorn's arbiter stops its workers on TERM
  });
}
