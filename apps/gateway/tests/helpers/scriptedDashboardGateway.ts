// A stand-in for the gateway's dashboard, for browser tests of what a real cluster does not do on
// cue: apps/web/dist over HTTP (any page path falls back to index.html), a login, an empty
// /v1/logs (refused to users who are not operators, as the servers do), and /v1/dashboard sending
// snapshots the test scripts, each checked against the protocol's schema first. Listens on
// 127.0.0.1, a free port.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { BODY_VALIDATORS, type GatewayDashboard } from '@correio/protocol';
import { WEB_DIST } from './browser.js';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

/** The access token the scripted login gives each user: `operator:<user>` for operators. */
const tokenOf = (user: string, operators: ReadonlySet<string>) => (operators.has(user) ? `operator:${user}` : `user:${user}`);

export interface ScriptedDashboardGateway {
  readonly url: string;
  /** Sockets authenticated as an operator and open now. */
  readonly operatorSockets: () => number;
  /** Connection attempts so far (upgrades, refused or not). */
  readonly attempts: () => number;
  /** Sends a snapshot (validated first: a test that builds a wrong one fails) to every operator socket. */
  send(snapshot: GatewayDashboard): void;
  /** Drops every socket as a dying gateway would (1006, no close frame) and, while `refusing`, refuses new ones. */
  drop(refusing: boolean): void;
  accept(): void;
  close(): Promise<void>;
}

function validated(snapshot: GatewayDashboard): GatewayDashboard {
  const validate = BODY_VALIDATORS['gateway.dashboard'];
  if (!validate(snapshot)) throw new Error(`the scripted snapshot breaks the schema: ${JSON.stringify(validate.errors)}`);
  return snapshot;
}

async function serveApp(request: IncomingMessage, response: ServerResponse, operators: ReadonlySet<string>): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/v1/login' && request.method === 'POST') {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const { user } = JSON.parse(body) as { user: string };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user, token: tokenOf(user, operators), refresh_token: 'refresh', expires_at: Date.now() + 3_600_000 }));
    return;
  }
  if (path === '/v1/logs') {
    const operator = request.headers.authorization?.startsWith('Bearer operator:') === true;
    const [status, reply] = operator ? [200, { server: 's3', lines: [] }] : [403, { code: 'FORBIDDEN', message: 'operators only' }];
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    return;
  }
  const file = join(WEB_DIST, normalize(path).replace(/^(\.\.[/\\])+/, ''));
  const asset = path.startsWith('/assets/') ? await readFile(file).catch(() => undefined) : undefined;
  if (path.startsWith('/assets/') && asset === undefined) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': TYPES[extname(asset ? file : 'index.html')] ?? 'application/octet-stream' }).end(asset ?? (await readFile(join(WEB_DIST, 'index.html'))));
}

export async function startScriptedDashboardGateway(operators: readonly string[]): Promise<ScriptedDashboardGateway> {
  const operatorSet = new Set(operators);
  const sockets = new Set<WebSocket>();
  let refusing = false;
  let attempts = 0;
  const http = createServer((request, response) => {
    serveApp(request, response, operatorSet).catch(() => response.writeHead(500).end());
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request, socket, head) => {
    attempts += 1;
    if (refusing || request.url !== '/v1/dashboard') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.once('message', (data) => {
        const { type, token } = JSON.parse(String(data)) as { type?: string; token?: string };
        if (type !== 'auth' || !token) return ws.close(4401, 'unauthenticated');
        if (!token.startsWith('operator:')) return ws.close(4403, 'operators only');
        ws.send(JSON.stringify({ type: 'ready', user: token.slice('operator:'.length) }));
        sockets.add(ws);
        ws.on('close', () => sockets.delete(ws));
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    operatorSockets: () => sockets.size,
    attempts: () => attempts,
    send(snapshot) {
      const text = JSON.stringify({ type: 'snapshot', snapshot: validated(snapshot) });
      for (const socket of sockets) socket.send(text);
    },
    drop(refuse) {
      refusing = refuse;
      for (const socket of sockets) socket.terminate();
      sockets.clear();
    },
    accept() {
      refusing = false;
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
