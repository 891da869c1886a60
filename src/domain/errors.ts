/**
 * The error vocabulary that decides what a caller does next:
 * - `TransientError`: try again (a storage call timed out, a 503).
 * - `PermanentError`: this input will never succeed; park it with the reason and go on.
 * - `ConfigurationError`: the system is set up wrongly; fail at start-up with the message.
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}
