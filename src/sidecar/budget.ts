/** Largest completion request body by default: 128k tokens of text is about 0.5 MB; images as base64 take more. */
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
/** Request body bytes held at once by default: with the copies made while parsing, well inside the pod's 512 Mi. */
export const DEFAULT_BODY_BUDGET = 128 * 1024 * 1024;
/**
 * The part of the budget one tenant may hold by default: a quarter, so one tenant's slow uploads
 * leave three quarters to everyone else (and 32 MiB of 128 is still two bodies of the maximum size).
 */
export const DEFAULT_TENANT_SHARE = 0.25;
/** How long a request body may take to arrive by default, from its headers to its last byte. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** Why a reservation was refused: the whole budget is in use, or the tenant holds its share. */
export type BudgetRefusal = 'budget' | 'tenant-share';

/**
 * Bytes of request bodies the sidecar may hold at once, across all requests being read or
 * forwarded: one oversized upload cannot pass the per-body limit, and many concurrent ones cannot
 * together take the pod past its memory limit (20 uploads of 31 MB reached 722 MB against 512 Mi).
 * Bytes are reserved as they arrive, never as declared, so a connection that declares 16 MiB and
 * sends nothing holds nothing; and one tenant holds at most its share, so one client's uploads
 * cannot refuse everyone else. The share is at least one body of the maximum size: every tenant
 * may always send one.
 */
export class BodyBudget {
  private held = 0;
  private readonly byTenant = new Map<string, number>();
  /** Bytes one tenant may hold at once. */
  readonly tenantShare: number;

  constructor(
    readonly total: number,
    options: { readonly maxBody?: number; readonly tenantShare?: number } = {},
  ) {
    const share = Math.floor(total * (options.tenantShare ?? 1));
    this.tenantShare = Math.min(total, Math.max(options.maxBody ?? 0, share));
  }

  /** Reserves `bytes` for `tenant`; on refusal nothing is reserved and the reason is returned. */
  take(tenant: string, bytes: number): true | BudgetRefusal {
    if (this.held + bytes > this.total) return 'budget';
    const mine = this.byTenant.get(tenant) ?? 0;
    if (mine + bytes > this.tenantShare) return 'tenant-share';
    this.held += bytes;
    this.byTenant.set(tenant, mine + bytes);
    return true;
  }

  /** Gives back what `tenant` took (never more than it holds, so the accounting cannot go negative). */
  give(tenant: string, bytes: number): void {
    const mine = this.byTenant.get(tenant) ?? 0;
    const back = Math.min(mine, bytes);
    this.held -= back;
    // Tenant names come from the client: an entry lives only while it holds bytes.
    if (mine - back === 0) this.byTenant.delete(tenant);
    else this.byTenant.set(tenant, mine - back);
  }

  get inUse(): number {
    return this.held;
  }

  /** Bytes `tenant` holds now. */
  heldBy(tenant: string): number {
    return this.byTenant.get(tenant) ?? 0;
  }
}
