/**
 * One structured log line per request, for a log search (Azure Monitor: ContainerLogV2) to find a
 * request id by tenant, feature or time, and hand it to `chargeback explain`. Built from the usage
 * event alone, which holds no prompt or completion text, so the line cannot hold any either. One
 * line of JSON: header values (tenant, feature, the client's request id) stay inside their strings
 * whatever they contain.
 */

/** The log line of a usage event, or undefined for another event (capacity). */
export function requestLogLine(event: Readonly<Record<string, unknown>>): string | undefined {
  if (event.type !== 'usage') return undefined;
  const ms = (field: string): number | undefined => {
    const value = event[field];
    return typeof value === 'string' ? Date.parse(value) : undefined;
  };
  const started = ms('startedAt');
  const finished = ms('finishedAt');
  const firstToken = ms('firstTokenAt');
  return JSON.stringify({
    msg: 'request',
    time: event.finishedAt,
    requestId: event.requestId,
    eventId: event.eventId,
    tenant: event.tenant,
    feature: event.feature,
    requestClass: event.requestClass,
    model: event.model,
    pod: event.pod,
    status: event.status,
    httpStatus: event.httpStatus,
    promptTokens: event.promptTokens,
    cachedPromptTokens: event.cachedPromptTokens,
    completionTokens: event.completionTokens,
    durationMs: started === undefined || finished === undefined ? null : finished - started,
    ttftMs: started === undefined || firstToken === undefined ? null : firstToken - started,
    queueMs: event.queueMs ?? null,
  });
}
