/**
 * The RetrainingJobs port over Azure ML's jobs API (contracts.md §7), with @azure/arm-machinelearning 2.1.1
 * (api-version 2022-10-01): `jobs.get`, `jobs.createOrUpdate` (a PUT under the deterministic
 * name) and `jobs.beginCancel`.
 *
 * Retries are the SDK's: its pipeline retries 429 and 503 after their Retry-After, other 5xx and
 * network failures with exponential backoff; what is still failing after that is a TransientError.
 * A 4xx is a PermanentError with the service's code and message. No error carries the bearer
 * token: the tokens the credential handed out are scrubbed from every message, and no SDK error
 * (whose request holds the Authorization header) is attached as a cause.
 *
 * The SDK 2.1.1 serialises a command job's inputs without their `uri` and `mode` (its mappers file
 * `uri_folder`, `mlflow_model`... under AssetJobInput while CommandJob's inputs look them up under
 * JobInput, so the base mapper keeps only `jobInputType`; Azure ML then refuses the job:
 * https://github.com/Azure/azure-sdk-for-js/issues/29328, open). A pipeline policy after the SDK's
 * serialisation puts our inputs and outputs back as written: CommandJobBody is the REST shape.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { AzureMachineLearningWorkspaces, type CommandJob, type JobBase } from '@azure/arm-machinelearning';
import { ConfigurationError, PermanentError, TransientError } from '../../domain/errors.js';
import type { CommandJobBody } from '../../domain/retrain/job-spec.js';
import { isTerminal, type JobState, type RetrainingJobs } from '../../ports/retraining-jobs.js';

export interface AmlJobsOptions {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  /** The ARM endpoint (AZURE_ARM_ENDPOINT); default https://management.azure.com. */
  readonly endpoint?: string;
  readonly credential: TokenCredential;
  /** The SDK's retries; the defaults are its own (3 retries, 1 s doubling up to 64 s). */
  readonly retry?: {
    readonly maxRetries?: number;
    readonly retryDelayInMs?: number;
    readonly maxRetryDelayInMs?: number;
  };
}

const ARM = 'https://management.azure.com';
/** Transport failures no retry will mend: the endpoint's certificate is not trusted or not its own. */
const TLS_FAILURES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export class AmlJobs implements RetrainingJobs {
  private readonly client: AzureMachineLearningWorkspaces;
  private readonly tokens: RememberingCredential;
  /** Bodies of the PUTs under way, by job name, for the policy that restores their inputs. */
  private readonly putting = new Map<string, CommandJobBody>();

  constructor(private readonly options: AmlJobsOptions) {
    const endpoint = (options.endpoint ?? ARM).replace(/\/+$/, '');
    this.tokens = new RememberingCredential(options.credential);
    this.client = new AzureMachineLearningWorkspaces(this.tokens, options.subscriptionId, {
      // The operations build their URLs from $host; `endpoint` is the client's base URL.
      $host: endpoint,
      endpoint,
      // The SDK would ask for `${endpoint}/.default`: the token is for ARM whatever address serves it.
      credentialScopes: [`${ARM}/.default`],
      ...(options.retry === undefined ? {} : { retryOptions: { ...options.retry } }),
    });
    this.client.pipeline.addPolicy(
      { name: 'restoreCommandJobInputs', sendRequest: (request, next) => next(this.restored(request)) },
      { afterPhase: 'Serialize' },
    );
  }

  /** The request with the job's inputs and outputs as written, when it is the PUT of one (see the header). */
  private restored<R extends { method: string; url: string; body?: unknown }>(request: R): R {
    const name = request.method === 'PUT' ? /\/jobs\/([^/?]+)(\?|$)/.exec(request.url)?.[1] : undefined;
    const body = name === undefined ? undefined : this.putting.get(decodeURIComponent(name));
    if (body === undefined || typeof request.body !== 'string') return request;
    const sent = JSON.parse(request.body) as { properties: Record<string, unknown> };
    sent.properties.inputs = body.inputs;
    sent.properties.outputs = body.outputs;
    request.body = JSON.stringify(sent);
    return request;
  }

  async get(name: string): Promise<JobState | undefined> {
    try {
      return stateOf(
        name,
        await this.client.jobs.get(this.options.resourceGroup, this.options.workspace, name),
      );
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.mapped('get', name, error);
    }
  }

  async create(name: string, body: CommandJobBody): Promise<JobState> {
    const properties: CommandJob = { ...body };
    this.putting.set(name, body);
    try {
      const { resourceGroup, workspace } = this.options;
      return stateOf(
        name,
        await this.client.jobs.createOrUpdate(resourceGroup, workspace, name, { properties }),
      );
    } catch (error) {
      throw this.mapped('create', name, error);
    } finally {
      this.putting.delete(name);
    }
  }

  /**
   * Sends the cancel request and returns once Azure ML has accepted it. `beginCancel` sends the POST
   * and reads the operation's status once; `beginCancelAndWait` would then poll until the job has
   * stopped, which can take minutes while the nodes wind down. The caller reads the job later.
   */
  async cancel(name: string): Promise<void> {
    try {
      await this.client.jobs.beginCancel(this.options.resourceGroup, this.options.workspace, name);
    } catch (error) {
      throw this.mapped('cancel', name, error);
    }
  }

  private mapped(operation: string, name: string, error: unknown): Error {
    if (error instanceof ConfigurationError) return error;
    const status = statusOf(error);
    const { code, message } = detailsOf(error);
    const what = this.tokens.scrub(
      `Azure ML ${operation} job ${name}: ${status ?? 'no response'}${code === undefined ? '' : ` ${code}`}: ${message}`,
    );
    if (status === undefined) {
      return code !== undefined && TLS_FAILURES.has(code)
        ? new ConfigurationError(what)
        : new TransientError(what);
    }
    return status === 408 || status === 429 || status >= 500
      ? new TransientError(what)
      : new PermanentError(what);
  }
}

function stateOf(name: string, job: JobBase): JobState {
  const status = job.properties.status ?? 'Unknown';
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(job.properties.tags ?? {}))
    if (typeof value === 'string') tags[key] = value;
  return {
    name: job.name ?? name,
    status,
    terminal: isTerminal(status),
    tags,
    ...(job.systemData?.createdAt === undefined ? {} : { createdAt: job.systemData.createdAt.toISOString() }),
    ...(job.systemData?.lastModifiedAt === undefined
      ? {}
      : { lastModifiedAt: job.systemData.lastModifiedAt.toISOString() }),
  };
}

/** The HTTP status of an SDK error (a RestError, by shape: the package does not export the class). */
function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function detailsOf(error: unknown): { code?: string; message: string } {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return {
    ...(typeof code === 'string' ? { code } : {}),
    message: typeof message === 'string' && message !== '' ? message : String(error),
  };
}

/** The credential, remembering the last tokens it handed out so that no message can carry one. */
class RememberingCredential implements TokenCredential {
  private readonly issued: string[] = [];

  constructor(private readonly inner: TokenCredential) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = await this.inner.getToken(scopes, options);
    if (token !== null && !this.issued.includes(token.token)) {
      this.issued.push(token.token);
      if (this.issued.length > 4) this.issued.shift();
    }
    return token;
  }

  scrub(text: string): string {
    let clean = text;
    for (const token of this.issued) clean = clean.split(token).join('[token]');
    return clean.replace(/Bearer\s+\S+/gi, 'Bearer [token]');
  }
}
