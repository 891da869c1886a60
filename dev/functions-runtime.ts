// @azure/functions is CommonJS and Node's ESM loader only detects some of its exports by name
// (`app` yes, the classes no), so the classes are taken from the default export.
import functions from '@azure/functions';
import type { Timer } from '@azure/functions';

export const { InvocationContext, HttpRequest } = functions;

/** A quiet invocation context, as the host would pass, for calling handlers outside the host. */
export function quietContext(functionName = 'local'): InstanceType<typeof InvocationContext> {
  return new InvocationContext({ functionName, logHandler: () => undefined });
}

/** The timer argument the host passes to a timer trigger. */
export const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};
