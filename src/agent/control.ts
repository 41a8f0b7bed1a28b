/**
 * The agent's control socket: where a drain is asked for. A unix socket in the instance's run dir, mode 0600,
 * owned by the agent's user (root, except in an unprivileged pod): only the preStop hook (`mailfleet agent
 * drain`, run in the container as that user) and root on the host reach it. The HTTP port takes no control
 * action: on the single host every instance address is loopback, open to every local user, and in a pod it
 * faces the network.
 *
 *   POST /drain   drains (once; a second ask waits for the same drain) and answers with the report when done
 */
import { errorMessage, MailfleetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { refuseMethod, startHttpResponder, type HttpResponder } from '../http-responder.ts';

export function startAgentControl(opts: {
  path: string;
  drain: () => Promise<unknown>;
  log: Logger;
}): HttpResponder {
  return startHttpResponder({
    path: opts.path,
    onError: (err) => opts.log.error({ err: errorMessage(err), path: opts.path }, 'control socket error'),
    handle: (req, reply) => {
      if (req.path !== '/drain') return reply(404, 'not found\n');
      if (req.method !== 'POST') return refuseMethod(reply, ['POST']);
      opts.log.info('drain asked on the control socket');
      opts.drain().then(
        (report) => reply(200, JSON.stringify(report) + '\n', 'application/json'),
        (err: unknown) => reply(500, `${errorMessage(err)}\n`),
      );
    },
  });
}

/**
 * Asks the agent behind `socketPath` to drain; resolves with its answer once the drain is done. Throws
 * AGENT_UNREACHABLE when nobody answers there (no agent, or not allowed to connect).
 */
export async function requestDrain(socketPath: string): Promise<{ status: number; body: string }> {
  // Loaded here: the agent itself never asks, and node:http is not part of what PID 1 of a pod holds.
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/drain', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => reject(new MailfleetError('AGENT_UNREACHABLE', `no agent answers on ${socketPath}: ${errorMessage(err)}`, { cause: err })));
    req.end();
  });
}
