/**
 * Judges one Dovecot auth policy request against the auth rules in force, through the policy server's Redis
 * limiter and its deadlines. It never holds a login up on Redis: while Redis is down or busy it answers allow at
 * once, and a check Redis has not answered within the deadline is answered allow; each such answer is counted in
 * `mailfleet_policy_auth_fail_open_total` and logged at most once per interval.
 */
import type { AuthPolicyRequest } from '../protocol/index.ts';
import { AUTH_ALLOW, AUTH_REPORTED, authMode, authScriptCall, authVerdict, planAuth, type CompiledAuthPolicy, type AuthVerdict } from './auth-evaluate.ts';
import type { AuthPolicyMetrics } from './auth-metrics.ts';
import { AUTH_SCRIPT, AUTH_SCRIPT_SHA1 } from './auth-script.ts';
import type { DeadlineQueue } from './deadlines.ts';
import { LimiterUnavailable, type Limiter, type LimiterScriptText } from './limiter.ts';
import type { LogThrottle } from './log-throttle.ts';
import type { FailOpenReason } from './metrics.ts';

const SCRIPT: LimiterScriptText = { text: AUTH_SCRIPT, sha1: AUTH_SCRIPT_SHA1 };

export interface AuthJudgeDeps {
  readonly policy: () => CompiledAuthPolicy;
  readonly limiter: () => Limiter | undefined;
  readonly deadlines: DeadlineQueue;
  readonly deadlineMs: number;
  readonly keyPrefix: string;
  readonly metrics: AuthPolicyMetrics;
  readonly throttle: LogThrottle;
}

/** The verdict for `request`; never rejects. */
export type AuthJudge = (request: AuthPolicyRequest) => Promise<AuthVerdict>;

export function createAuthJudge(deps: AuthJudgeDeps): AuthJudge {
  const { metrics, throttle } = deps;
  return (request) => {
    const started = performance.now();
    const finish = (verdict: AuthVerdict): AuthVerdict => {
      metrics.answered(request.command, verdict.verdict, verdict.rule, (performance.now() - started) / 1000);
      return verdict;
    };
    const fallback = request.command === 'allow' ? AUTH_ALLOW : AUTH_REPORTED;
    const mode = authMode(request);
    if (mode === undefined) return Promise.resolve(finish(fallback));
    const buckets = planAuth(deps.policy(), request, mode);
    if (buckets.length === 0) return Promise.resolve(finish(fallback));
    const failOpen = (reason: FailOpenReason, detail: string): AuthVerdict => {
      metrics.failOpen(reason);
      throttle.warn(`auth-fail-open-${reason}`, { reason, detail, command: request.command }, 'auth policy request not judged, login allowed');
      return finish(fallback);
    };
    const limiter = deps.limiter();
    if (limiter === undefined) return Promise.resolve(failOpen('redis_down', 'no redis connection'));
    const refused = limiter.refusal();
    if (refused !== undefined) return Promise.resolve(failOpen(refused.reason, refused.message));
    return new Promise((resolve) => {
      let settled = false;
      const deadline = deps.deadlines.add(() => {
        if (settled) return;
        settled = true;
        resolve(failOpen('timeout', `no answer from redis within ${deps.deadlineMs} ms`));
      });
      const { keys, args } = authScriptCall(deps.keyPrefix, mode, buckets);
      limiter.check(keys, args, SCRIPT).then(
        (indexes) => {
          if (mode === 'fail') for (const i of indexes) metrics.counted(buckets[i]?.rule.name ?? '');
          if (settled) return;
          settled = true;
          deadline.end();
          const verdict = mode === 'check' ? authVerdict(buckets, indexes) : fallback;
          if (verdict.verdict === 'reject' || verdict.verdict === 'tarpit') {
            // One line per rule and interval: an attack refused thousands of times a minute is one line, with how many were left out.
            throttle.warn(`auth-${verdict.verdict}-${verdict.rule}`, { rule: verdict.rule, verdict: verdict.verdict, login: request.login, remote: request.remote, protocol: request.protocol }, 'login refused or delayed by an auth rule');
          }
          resolve(finish(verdict));
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          deadline.end();
          const reason = err instanceof LimiterUnavailable ? err.reason : 'error';
          resolve(failOpen(reason, err instanceof Error ? err.message : String(err)));
        },
      );
    });
  };
}
