/**
 * The "bare proxy" baseline: the smallest sensible Node reverse proxy, @fastify/http-proxy
 * (undici underneath, like the gateway), with no route table, no canary, no access log.
 * The gateway's overhead over this is the cost of its own features.
 *
 * Usage: bare-proxy <upstream URL> <port>. Prints "READY <port>"; exits when stdin closes.
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { exitWithParent } from './procs.js';

const [upstream, port = '0'] = process.argv.slice(2);
if (upstream === undefined) {
  process.stderr.write('usage: bare-proxy <upstream URL> [port]\n');
  process.exit(2);
}

const app = Fastify({ logger: false });
await app.register(proxy, { upstream });
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.stdout.write(`READY ${(app.server.address() as AddressInfo).port}\n`);

const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
exitWithParent(stop);
