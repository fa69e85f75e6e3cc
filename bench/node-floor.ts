/**
 * The "node floor" baseline: the simplest proxy the runtime allows, a node:http server piping
 * each request into an undici Pool with `pool.stream()` and hop-by-hop headers stripped. No
 * route table, no limits, no logging, no error handling worth the name: what is left of the
 * gateway's cost over this is the cost of its features, and the rest is Node's own.
 *
 * Usage: node-floor <upstream URL> [port]. Prints "READY <port>"; exits when stdin closes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { exitWithParent } from './procs.js';

const [upstream, port = '0'] = process.argv.slice(2);
if (upstream === undefined) {
  process.stderr.write('usage: node-floor <upstream URL> [port]\n');
  process.exit(2);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const pool = new Pool(upstream, { connections: 256, pipelining: 1 });

const server = http.createServer((req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  pool.stream(
    { path: req.url!, method: req.method!, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers: answer }) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (err && !res.headersSent) res.writeHead(502).end();
      else if (err) res.destroy(err);
    },
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => server.close(() => void pool.close().then(() => process.exit(0)));
process.on('SIGTERM', stop);
exitWithParent(stop);
