import { TransientError } from '../domain/errors.js';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
]);

/** Whether trying again later may succeed: our TransientError, throttling, 5xx, timeouts, a dropped connection. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number' && (statusCode === 408 || statusCode === 429 || statusCode >= 500))
    return true;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

export interface RetryOptions {
  /** Give up (rethrow) once this much time has passed since the first attempt. */
  readonly deadlineMs: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs an idempotent operation until it succeeds, a permanent error occurs, or the deadline
 * passes, backing off exponentially (with jitter) between attempts.
 */
export async function retrying<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransient(error)) throw error;
      const base = Math.min(options.maxDelayMs ?? 10_000, (options.baseDelayMs ?? 250) * 2 ** (attempt - 1));
      const delay = base / 2 + (Math.random() * base) / 2;
      if (now() + delay - started > options.deadlineMs) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
