import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { parseDay } from '../src/domain/days.js';
import {
  replayDeadLetters,
  type ReplayDeps,
  type ReplayOptions,
} from '../src/usecases/repair/replay-dead-letters.js';

/**
 * POST /api/ops/deadletters/replay[?day=YYYY-MM-DD | ?from=..&to=..][&dryRun=true]: replays dead
 * letters as `chargeback replay-deadletters` does, with the app's own price card, and answers the
 * outcome as JSON. Admin level: only the host's master key may call it (it writes the ledger).
 * An HTTP call must answer within 230 s (https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout),
 * so a large backlog is replayed a day at a time, or with the command.
 */
export function makeReplayDeadLetters(deps: () => Promise<ReplayDeps>) {
  return async function replayDeadLettersHttp(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const options = replayOptions(request.query);
    if (typeof options === 'string') return { status: 400, jsonBody: { error: options } };
    const outcome = await replayDeadLetters(await deps(), options);
    context.log(
      JSON.stringify({
        function: 'replayDeadLetters',
        ...options,
        replayed: outcome.replayed,
        alreadyInLedger: outcome.alreadyInLedger,
        left: outcome.left,
      }),
    );
    return { status: 200, jsonBody: { ...options, ...outcome } };
  };
}

function replayOptions(query: URLSearchParams): ReplayOptions | string {
  const days: Record<string, string | undefined> = {};
  for (const name of ['day', 'from', 'to']) {
    const value = query.get(name) ?? undefined;
    if (value !== undefined && parseDay(value) === undefined)
      return `${name} must be a calendar day YYYY-MM-DD, got "${value.slice(0, 40)}"`;
    days[name] = value;
  }
  if (days.day !== undefined && (days.from !== undefined || days.to !== undefined))
    return 'give day, or from and to, not both';
  const from = days.day ?? days.from;
  const to = days.day ?? days.to;
  if (from !== undefined && to !== undefined && from > to) return `from ${from} is after to ${to}`;
  const dryRun = query.get('dryRun') ?? 'false';
  if (dryRun !== 'true' && dryRun !== 'false')
    return `dryRun must be true or false, got "${dryRun.slice(0, 40)}"`;
  return { from, to, dryRun: dryRun === 'true' };
}

export const replayDeadLettersHttp = makeReplayDeadLetters(async () => {
  const s = await services();
  return { ledger: s.ledger, prices: s.prices, now: s.now };
});

app.http('replayDeadLetters', {
  methods: ['POST'],
  authLevel: 'admin',
  // Not under admin/: the host reserves that prefix for its own API.
  route: 'ops/deadletters/replay',
  handler: replayDeadLettersHttp,
});
