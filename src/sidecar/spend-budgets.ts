import { request } from 'undici';
import { covers } from '../domain/budgets/budgets.js';
import { decide, parseBudgetState, type BudgetStateEntry, type Decision } from '../domain/budgets/state.js';

/** How often the state document is read, by default: the refresh interval of the overshoot bound. */
export const DEFAULT_BUDGET_REFRESH_MS = 5_000;
/** How old a state may be before it is stale: the publisher or the read has stopped. */
export const DEFAULT_BUDGET_STALE_MS = 60_000;

const SERVE: Gate = { action: 'serve' };

/** What the sidecar does for one request: the state document's decision, or a refusal for want of one. */
export type Gate = Decision | { readonly action: 'unavailable'; readonly retryAfterSeconds: number };

export interface BudgetReaderOptions {
  /** The state document's text; rejects when it cannot be read. */
  readonly read: () => Promise<string>;
  readonly refreshMs?: number;
  readonly staleMs?: number;
  /**
   * With a stale or missing state: false (the default) serves every request (fail open); true
   * refuses, with 503, the requests a budget of the last good document covers, and every request
   * when none was ever read (fail closed).
   */
  readonly failClosed?: boolean;
  readonly now?: () => number;
  readonly log?: (message: string) => void;
  /** Called on each state change the metrics show: `ok`, `unreadable` (kept the last good), `unreachable`, `stale`. */
  readonly observe?: (outcome: 'ok' | 'unreadable' | 'unreachable' | 'stale', ageSeconds: number) => void;
}

/**
 * The budgets every pod enforces, from the state document the publisher writes: read every
 * `refreshMs` (never per request), the last good one kept when a read fails or does not parse.
 * A state is stale when its last good read, or its own generatedAt, is older than `staleMs` (the
 * latter catches a publisher that stopped; the former a sidecar that cannot reach Storage). Clock
 * skew between the publisher and a pod up to `staleMs` is tolerated; an entry stops holding at its
 * resetsAt by the pod's clock.
 */
export class BudgetStateReader {
  private entries: readonly BudgetStateEntry[] = [];
  /** The entries over their limit, by the tenant their scope names, and (tenant-less ones) by feature. */
  private overByTenant = new Map<string, BudgetStateEntry[]>();
  private overByFeature = new Map<string, BudgetStateEntry[]>();
  private generatedMs = Number.NEGATIVE_INFINITY;
  private lastGoodMs = Number.NEGATIVE_INFINITY;
  private everRead = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastProblem: string | undefined;
  private readonly now: () => number;
  readonly refreshMs: number;
  readonly staleMs: number;

  constructor(private readonly options: BudgetReaderOptions) {
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? DEFAULT_BUDGET_REFRESH_MS;
    this.staleMs = options.staleMs ?? DEFAULT_BUDGET_STALE_MS;
  }

  /** Reads once now, then every refreshMs until stop. */
  async start(): Promise<void> {
    await this.refresh();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.refresh().finally(tick);
      }, this.refreshMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One read of the state document (concurrent callers share it). */
  refresh(): Promise<void> {
    this.running ??= this.readOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async readOnce(): Promise<void> {
    let text: string;
    try {
      text = await this.options.read();
    } catch (error) {
      this.problem('unreachable', `budget state unreachable: ${(error as Error).message}`);
      return;
    }
    try {
      const state = parseBudgetState(text);
      this.entries = state.entries;
      this.index(state.entries);
      this.generatedMs = Date.parse(state.generatedAt);
      this.lastGoodMs = this.now();
      this.everRead = true;
      if (this.lastProblem !== undefined) this.options.log?.('sidecar: budget state read again');
      this.lastProblem = undefined;
      this.options.observe?.(this.isStale() ? 'stale' : 'ok', this.ageSeconds());
    } catch (error) {
      this.problem(
        'unreadable',
        `budget state does not parse, the last good one is kept: ${(error as Error).message}`,
      );
    }
  }

  /** A request looks at the few entries over their limit that could cover it, not at every budget. */
  private index(entries: readonly BudgetStateEntry[]): void {
    const byTenant = new Map<string, BudgetStateEntry[]>();
    const byFeature = new Map<string, BudgetStateEntry[]>();
    for (const e of entries) {
      if (!e.over) continue;
      const [map, name] =
        e.scope.tenant !== undefined ? [byTenant, e.scope.tenant] : [byFeature, e.scope.feature ?? ''];
      const list = map.get(name) ?? [];
      list.push(e);
      map.set(name, list);
    }
    this.overByTenant = byTenant;
    this.overByFeature = byFeature;
  }

  private problem(kind: 'unreadable' | 'unreachable', message: string): void {
    // One line per change of problem, not one per read every few seconds.
    if (this.lastProblem !== message) this.options.log?.(`sidecar: ${message}`);
    this.lastProblem = message;
    this.options.observe?.(kind, this.ageSeconds());
  }

  /** Seconds since the state the sidecar holds was generated (Infinity before the first). */
  ageSeconds(): number {
    return (
      (this.now() - Math.max(Math.min(this.generatedMs, this.lastGoodMs), Number.MIN_SAFE_INTEGER)) / 1000
    );
  }

  isStale(): boolean {
    const now = this.now();
    return !this.everRead || now - this.lastGoodMs > this.staleMs || now - this.generatedMs > this.staleMs;
  }

  /** What to do with a request of this tenant and feature, now. */
  gate(tenant: string, feature: string): Gate {
    const now = this.now();
    if (this.options.failClosed === true && this.isStale()) {
      const covered = !this.everRead || this.entries.some((e) => covers(e.scope, tenant, feature));
      if (covered) return { action: 'unavailable', retryAfterSeconds: Math.ceil(this.refreshMs / 1000) };
    }
    const byTenant = this.overByTenant.get(tenant);
    const byFeature = this.overByFeature.get(feature);
    if (byTenant === undefined && byFeature === undefined) return SERVE;
    return decide([...(byTenant ?? []), ...(byFeature ?? [])], tenant, feature, now);
  }
}

/**
 * Reads the state blob over HTTPS: with a bearer token (the pod's workload identity, Storage Blob
 * Data Reader on the container) or a URL that carries its own access (Azurite in tests, a SAS).
 */
export function blobReader(
  url: URL,
  token?: () => Promise<string>,
  timeoutMs = 2_000,
): () => Promise<string> {
  return async () => {
    const headers: Record<string, string> = { 'x-ms-version': '2023-11-03' };
    if (token !== undefined) headers.authorization = `Bearer ${await token()}`;
    const res = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${url.origin}${url.pathname}`);
    return text;
  };
}
