import type { TeamsMessage } from '../domain/drift/card.js';

/**
 * Where drift messages go: the Teams channel in Azure, a recorder in tests. `post` resolves once the
 * message is accepted, and otherwise rejects with a TransientError (tried and failed; worth sending
 * again later) or a PermanentError (the receiver refused this message or this address).
 */
export interface Notifier {
  post(message: TeamsMessage): Promise<void>;
}
