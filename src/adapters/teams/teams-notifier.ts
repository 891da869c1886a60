/**
 * The Teams Workflows webhook client (contracts.md §7). Any 2xx is success (Workflows answers 202 with an
 * empty body). 408, 429 and 5xx are retried with exponential backoff, honouring Retry-After; a hang
 * is cut off after `attemptTimeoutMs` and counts as a failed try. Other statuses are permanent. The
 * URL never appears in an error: messages name its host only, and anything echoed from the
 * receiver goes through `redact`.
 */
import type { TeamsMessage } from '../../domain/drift/card.js';
import { PermanentError, TransientError } from '../../domain/errors.js';
import type { Notifier } from '../../ports/notifier.js';
import { RateLimiter } from './rate-limiter.js';
import { redact, workflowsUrl } from './webhook-url.js';

export interface TeamsNotifierOptions {
  readonly url: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter of the backoff. */
  readonly random?: () => number;
  /** Tries per message, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Backoff before the second try; doubles after each. Default 1 s. */
  readonly baseDelayMs?: number;
  /**
   * The longest wait between tries, Retry-After included. A receiver that asks for longer is not
   * waited for: the message fails now and goes to the outbox for the next run. Default 30 s.
   */
  readonly maxDelayMs?: number;
  /** Default 10 s. */
  readonly attemptTimeoutMs?: number;
  /** Default 4 (contracts.md §7). */
  readonly postsPerSecond?: number;
}

/** Statuses worth trying again: timeout, throttling, the receiver's own failures. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class TeamsNotifier implements Notifier {
  private readonly url: URL;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly limiter: RateLimiter;

  /** Throws ConfigurationError for an Office 365 connector URL or one that is not https. */
  constructor(private readonly options: TeamsNotifierOptions) {
    this.url = workflowsUrl(options.url);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.limiter = new RateLimiter(options.postsPerSecond ?? 4, 1000, this.now, this.sleep);
  }

  /** The host only: what a log line or an error may say about where the message went. */
  get host(): string {
    return this.url.host;
  }

  async post(message: TeamsMessage): Promise<void> {
    const body = JSON.stringify(message);
    const maxAttempts = this.options.maxAttempts ?? 5;
    const maxDelayMs = this.options.maxDelayMs ?? 30_000;
    for (let attempt = 1; ; attempt += 1) {
      await this.limiter.take();
      const failure = await this.attempt(body);
      if (failure === undefined) return;
      const tries = `${attempt} ${attempt === 1 ? 'try' : 'tries'}`;
      if (attempt >= maxAttempts) throw new TransientError(`${failure.reason} (gave up after ${tries})`);
      const delay = failure.retryAfterMs ?? this.backoff(attempt);
      if (delay > maxDelayMs)
        throw new TransientError(
          `${failure.reason} and asked to wait ${Math.ceil(delay / 1000)} s (gave up after ${tries})`,
        );
      await this.sleep(delay);
    }
  }

  /** One POST: undefined on success, the reason and any Retry-After on a failure worth retrying. */
  private async attempt(body: string): Promise<{ reason: string; retryAfterMs?: number } | undefined> {
    const timeoutMs = this.options.attemptTimeoutMs ?? 10_000;
    const where = `Teams webhook at ${this.url.host}`;
    try {
      const response = await this.fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        // One signal for the headers and the body: a receiver that stalls half-way is a hang too.
        signal: AbortSignal.timeout(timeoutMs),
      });
      const detail = redact((await response.text()).slice(0, 300), this.url);
      if (response.ok) return undefined;
      const reason = `${where} answered ${response.status}${detail ? `: ${detail}` : ''}`;
      if (!retryable(response.status)) throw new PermanentError(reason);
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now());
      return retryAfterMs === undefined ? { reason } : { reason, retryAfterMs };
    } catch (error) {
      if (error instanceof PermanentError) throw error;
      if (error instanceof Error && error.name === 'TimeoutError')
        return { reason: `${where} did not answer within ${timeoutMs} ms` };
      // fetch's errors may quote the address (undici puts it in some causes): keep the code only.
      return { reason: `${where} could not be reached (${redact(errorCode(error), this.url)})` };
    }
  }

  private backoff(attempt: number): number {
    const base = (this.options.baseDelayMs ?? 1000) * 2 ** (attempt - 1);
    return Math.round(base / 2 + (this.random() * base) / 2);
  }
}

/**
 * Retry-After in milliseconds from now: delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function errorCode(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'unknown error';
}
