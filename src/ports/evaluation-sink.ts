/** Where a harness run's evaluation event goes: the `evaluations` hub (contracts.md §13). */
export interface EvaluationSink {
  /** Resolves once the event is accepted; rejects with the reason when it was not. */
  send(event: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
