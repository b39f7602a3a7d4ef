/** HAProxy's admin socket, for the tests that run deploy/haproxy.cfg. */
import { connect as netConnect } from 'node:net';

/** One command on HAProxy's admin socket; resolves with its whole answer. */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(socketPath);
    let answer = '';
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    socket.on('end', () => resolve(answer));
    socket.on('connect', () => socket.end(`${command}\n`));
  });
}

/** Each server of the `gateways` backend with its check status (UP, DOWN, "UP 1/2"…). */
export async function serverStatus(socketPath: string): Promise<Record<string, string>> {
  const [header = '', ...rows] = (await adminCommand(socketPath, 'show stat')).trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const [proxy, server, status] = ['pxname', 'svname', 'status'].map((name) => columns.indexOf(name));
  const out: Record<string, string> = {};
  for (const row of rows) {
    const cells = row.split(',');
    if (cells[proxy as number] === 'gateways' && !/^(BACKEND|FRONTEND)$/.test(cells[server as number] ?? ''))
      out[cells[server as number] as string] = cells[status as number] as string;
  }
  return out;
}
