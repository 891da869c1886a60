import type { AttributionRules } from './attribution.js';
import type { SidecarMetrics } from './metrics.js';
import type { RouteRules } from './routes.js';
import type { Gate } from './spend-budgets.js';

/** The replica whose GPUs the sidecar meters: every event it sends names these. */
export interface PodIdentity {
  readonly pod: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly model: string;
}

/** What the metering proxy needs: the upstream, attribution, the pod, where events go. */
export interface ProxyDeps {
  readonly upstream: URL;
  readonly rules: AttributionRules;
  readonly priorities: ReadonlyMap<string, number>;
  /** Pass-through routes beside the defaults, and metered routes refused (routes.ts). */
  readonly routes?: RouteRules;
  /** Request body limits (defaults in budget.ts): bytes per body, in total, and per tenant; time to arrive. */
  readonly bodies?: {
    readonly max: number;
    readonly budget: number;
    /** The fraction of the budget one tenant may hold (at least one body of `max`). */
    readonly tenantShare?: number;
    /** Milliseconds from a request's headers to its body's last byte; 408 after. */
    readonly timeoutMs?: number;
  };
  readonly identity: PodIdentity;
  readonly emit: (event: Record<string, unknown>) => void;
  readonly metrics: SidecarMetrics;
  readonly now?: () => number;
  /** The sidecar's own log (standard error): answers that cannot be metered as reported are named there. */
  readonly log?: (message: string) => void;
  /** Largest stream event read, in characters (default 8 Mi); a larger one is relayed unread and counted. */
  readonly maxStreamEventChars?: number;
  /** Spend budgets (spend-budgets.ts): what to do with a tenant's and feature's request now; none: no budgets. */
  readonly budgets?: { gate(tenant: string, feature: string): Gate };
}
