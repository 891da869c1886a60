/**
 * `chargeback replay-workload` as `npm start` runs it: the same sample of a model's day replayed
 * through one sidecar, every request billed to the platform's replay tenant, so the replay is
 * seen in the day's chargeback and the real tenants are not charged for it.
 */
import {
  parseReplayWorkloadArgs,
  replayWorkloadLines,
  runReplayWorkload,
} from '../src/cli/replay-workload-command.js';

/** The tenant the replays are billed to. */
export const REPLAY_TENANT = 'release-replay';

/** The requests replayed; the same on every run of the same events. */
export const REPLAY_SAMPLE = 400;

export async function replayThrough(
  endpoint: URL,
  workload: string,
  model: string,
  print: (line: string) => void,
  label: string,
): Promise<void> {
  const options = parseReplayWorkloadArgs([
    '--events',
    workload,
    '--model',
    model,
    '--endpoint',
    endpoint.href,
    '--sample',
    String(REPLAY_SAMPLE),
    '--tenant',
    REPLAY_TENANT,
    '--concurrency',
    '8',
  ]);
  if (options === 'help') throw new Error('unreachable');
  const outcome = await runReplayWorkload(options);
  const lines = replayWorkloadLines(options, outcome);
  print(`chargeback replay-workload through ${label}: ${(lines.stdout[0] ?? '').replace(/^replayed /, '')}`);
  for (const line of lines.stderr) print(`  ${line}`);
  if (outcome.code !== 0) throw new Error(`the replay through ${label} is partial`);
}
