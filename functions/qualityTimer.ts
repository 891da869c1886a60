import { app, type InvocationContext, type Timer } from '@azure/functions';
import { followDeps, qualityDeps, services } from '../src/composition/composition.js';
import { QUALITY_SCHEDULE } from '../src/composition/settings.js';
import { judgeAll, type QualityDeps } from '../src/usecases/quality/evaluate.js';
import { followJobs, type FollowDeps } from '../src/usecases/quality/follow.js';

/**
 * Every 15 minutes: judges every gated model again, so a harness that stops reporting turns its
 * gate red once the latest evaluation is older than maxAgeHours (stale = fail), and follows the
 * retraining jobs: status, the end, the GPU-time charged to the days they ran, the Teams notices.
 */
export function makeQualityTimer(deps: () => Promise<{ quality: QualityDeps; follow?: FollowDeps }>) {
  return async function qualityTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const d = await deps();
    const verdicts = await judgeAll(d.quality);
    const failing = [...verdicts].filter(([, o]) => o.judgement.verdict.verdict === 'fail').map(([m]) => m);
    const follow = d.follow === undefined ? undefined : await followJobs(d.follow);
    context.log(
      JSON.stringify({
        function: 'qualityTimer',
        judged: verdicts.size,
        failing,
        ...(follow ?? { retraining: 'off' }),
      }),
    );
  };
}

export const qualityTimer = makeQualityTimer(async () => {
  const s = await services();
  const follow = followDeps(s);
  return { quality: qualityDeps(s), ...(follow === undefined ? {} : { follow }) };
});

app.timer('qualityTimer', { schedule: QUALITY_SCHEDULE, handler: qualityTimer });
