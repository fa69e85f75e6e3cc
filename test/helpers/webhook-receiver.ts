import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from './servers.js';

export interface ReceivedPost {
  key: string | undefined;
  contentType: string | undefined;
  /** The status the receiver answered it with. */
  answered: number;
  body: { text: string; event: { id: string; kind: string; routeId: string; toStage: string | null; text: string } };
}

/**
 * A webhook receiver on a loopback port: records every POST, and answers `status` (503 while
 * "down"); `close()` then `listen()` again on the same port takes it off the network and back.
 */
export interface WebhookReceiver {
  url: string;
  port: number;
  posts: ReceivedPost[];
  status: number;
  /** The event ids received with a 2xx answer. */
  delivered(): Set<string>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(port = 0, status = 204): Promise<WebhookReceiver> {
  let server: http.Server | undefined;
  const receiver: WebhookReceiver = {
    url: '',
    port,
    posts: [],
    status,
    delivered: () => new Set(receiver.posts.filter((p) => p.answered < 300).map((p) => p.body.event.id)),
    async listen() {
      server = http.createServer((req, res) => {
        let raw = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (raw += chunk));
        req.on('end', () => {
          const answered = receiver.status;
          const key = req.headers['idempotency-key'] as string | undefined;
          receiver.posts.push({ key, contentType: req.headers['content-type'], answered, body: JSON.parse(raw) as ReceivedPost['body'] });
          res.writeHead(answered).end();
        });
      });
      await new Promise<void>((resolve) => server!.listen(receiver.port, '127.0.0.1', resolve));
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks/strangler`;
    },
    async close() {
      if (server !== undefined) await closeServer(server);
      server = undefined;
    },
  };
  await receiver.listen();
  return receiver;
}
