/** What `mailfleet probe --once` prints about its cycle: a per-stage table, or one JSON document. */
import type { CycleReport } from './prober.ts';
import { STAGES } from './settings.ts';

export interface CycleSummary {
  ok: boolean;
  startedAt: string;
  staleRemoved: number;
  staleError?: string;
  paths: {
    path: string;
    ok: boolean;
    tag: string;
    durationMs: number;
    /** Milliseconds per stage that completed. */
    stages: Record<string, number>;
    failure?: { stage: string; code: string; message: string; reply?: string; step?: string; address?: string };
  }[];
}

/** The cycle as JSON-ready data: ok only when every path succeeded. */
export function summarize(report: CycleReport): CycleSummary {
  const paths = report.paths.map((p) => ({
    path: p.path,
    ok: p.outcome === 'succeeded',
    tag: p.tag,
    durationMs: Math.round(p.durationMs),
    stages: Object.fromEntries(p.stages.map((s) => [s.stage, Math.round(s.durationMs)])),
    ...(p.failure ? { failure: { ...p.failure } } : {}),
  }));
  return {
    ok: paths.length > 0 && paths.every((p) => p.ok),
    startedAt: new Date(report.startedAt).toISOString(),
    staleRemoved: report.staleRemoved,
    ...(report.staleError === undefined ? {} : { staleError: report.staleError }),
    paths,
  };
}

/** A table, one row per path, one column per stage (ms), then why a failed path failed and what the server said. */
export function summaryText(summary: CycleSummary): string {
  const header = ['PATH', 'RESULT', 'TOTAL', ...STAGES.map((s) => s.toUpperCase())];
  const rows = summary.paths.map((p) => [
    p.path,
    p.ok ? 'ok' : `failed at ${p.failure?.stage ?? '?'}`,
    `${p.durationMs} ms`,
    ...STAGES.map((s) => (p.stages[s] === undefined ? '-' : `${p.stages[s]} ms`)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out = [line(header), ...rows.map(line)];
  for (const p of summary.paths) {
    const f = p.failure;
    if (f === undefined) continue;
    const where = [f.address, f.step].filter((x) => x !== undefined).join(', ');
    out.push(`${p.path}: ${f.stage} failed (${f.code}${where ? `; ${where}` : ''}): ${f.message}${f.reply === undefined ? '' : `\n  server said: ${f.reply}`}`);
  }
  if (summary.staleRemoved > 0) out.push(`removed ${summary.staleRemoved} stale probe message(s)`);
  if (summary.staleError !== undefined) out.push(`stale probe messages not checked: ${summary.staleError}`);
  if (summary.paths.length === 0) out.push('no path to probe');
  return out.join('\n') + '\n';
}
