import type { AttributionRules } from './attribution.js';
import type { SidecarMetrics } from './metrics.js';

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
  /** Request body limits in bytes: per body, and in total across requests (defaults 16 and 128 MiB). */
  readonly bodies?: { readonly max: number; readonly budget: number };
  readonly identity: PodIdentity;
  readonly emit: (event: Record<string, unknown>) => void;
  readonly metrics: SidecarMetrics;
  readonly now?: () => number;
}
