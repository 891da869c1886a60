/**
 * An Azure ML jobs API stand-in for tests and local runs: an HTTPS server on 127.0.0.1 (the SDK's
 * bearer policy refuses plain http; the certificate is dev/tls's test one, trusted only through
 * NODE_EXTRA_CA_CERTS) that answers the calls the retraining adapter makes with
 * @azure/arm-machinelearning 2.1.1, as ARM does:
 *
 * - `PUT  .../workspaces/{ws}/jobs/{name}?api-version=2022-10-01`: 201 and the job when new; 200 and
 *   the job as it is when the name exists (ARM's idempotent PUT; the adapter never relies on it,
 *   because retraining reads a job before creating it, contracts.md §7).
 * - `GET  .../jobs/{name}`: 200 and the job, 404 when there is none.
 * - `POST .../jobs/{name}/cancel`: 202 with a Location the SDK's poller reads (`GET
 *   .../operationResults/{id}`: 202 while the cancel is under way, 200 once the job is Canceled).
 * - `PUT  .../models/{name}/versions/{version}`: 201 and the version when new (400 without
 *   `properties.modelUri`); 200 and the version as it is when it exists (a version is immutable).
 * - `GET  .../models/{name}/versions/{version}`: 200 and the version, 404 when there is none.
 *
 * It checks what the real service would refuse (the api-version, the bearer token, a command job's
 * required fields) with ARM's error body `{ error: { code, message } }`, records every request,
 * moves jobs through their statuses on a schedule, and injects faults on demand.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { commandJobProblem } from './aml-job-checks.js';

export const API_VERSION = '2022-10-01';
// As src/ports/retraining-jobs.ts: a NotResponding job may come back, so it can still be cancelled.
const TERMINAL = new Set(['Completed', 'Failed', 'Canceled']);
const WORKSPACE = String.raw`/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)`;
const JOB_PATH = new RegExp(`^${WORKSPACE}/jobs/([^/]+)(/cancel)?$`, 'i');
const MODEL_VERSION_PATH = new RegExp(`^${WORKSPACE}/models/([^/]+)/versions/([^/]+)$`, 'i');
const OPERATION_PATH = new RegExp(`^${WORKSPACE}/operationResults/([^/]+)$`, 'i');
const FAULT_CODES = {
  429: 'TooManyRequests',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
} as const;

export interface AmlStandInOptions {
  /** The bearer token it accepts; a random one by default. */
  readonly token?: string;
  /** A new job's status, then the ones it moves through. Default Queued, Running, Completed. */
  readonly statuses?: readonly string[];
  /** Every this many reads of a job moves it one status on; 0 (default): only `finish` moves it. */
  readonly advanceEveryReads?: number;
  /** False: a cancel stays under way (CancelRequested) until `finish`. Default true. */
  readonly cancelSettles?: boolean;
  /** Server key and certificate; default dev/tls's test ones. */
  readonly tls?: ServerOptions;
  /** The clock of the jobs' systemData times (a demo moved through a simulated day); default the system's. */
  readonly now?: () => Date;
}

export interface RecordedRequest {
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  readonly apiVersion: string | null;
  readonly authorization: string | undefined;
  readonly body: unknown;
  /** Date.now() when it arrived. */
  readonly at: number;
}

export interface StandInJob {
  readonly id: string;
  readonly name: string;
  properties: Record<string, unknown> & { status: string };
  readonly createdAt: string;
  lastModifiedAt: string;
  reads: number;
}

export interface StandInModelVersion {
  readonly id: string;
  readonly name: string;
  readonly properties: Record<string, unknown>;
  readonly createdAt: string;
}

export interface Fault {
  readonly status: 429 | 500 | 503;
  /** How many requests in a row get it. Default 1. */
  readonly times?: number;
  /** Sent as Retry-After (seconds). */
  readonly retryAfterSeconds?: number;
  /** True: the request is carried out first and only its answer is the fault (an answer lost). */
  readonly afterHandling?: boolean;
}

export interface AmlStandIn {
  /** https://127.0.0.1:PORT: the ARM endpoint to give the client. */
  readonly url: string;
  readonly token: string;
  readonly requests: RecordedRequest[];
  readonly jobs: Map<string, StandInJob>;
  /** Model versions by `name:version`, as ARM serves them. */
  readonly models: Map<string, StandInModelVersion>;
  /** The next requests (any route) answer with this fault. */
  fail(fault: Fault): void;
  /** While on, every PUT answers 409 Conflict. */
  conflictOnPut(on: boolean): void;
  /** Sets a job's status, as Azure ML ending it would. */
  finish(name: string, status: string): void;
  close(): Promise<void>;
}

/** dev/tls beside this file, or (compiled into dist/dev/) the repository's. */
export function testTlsDir(): string {
  const beside = fileURLToPath(new URL('./tls/', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../dev/tls/', import.meta.url));
}

/** An answer: status, JSON body (none when undefined) and extra headers. */
interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const armError = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body: { error: { code, message } },
  ...(headers === undefined ? {} : { headers }),
});

/** The service's state and its answers; the HTTPS server around it is startAmlStandIn's. */
class JobsApi {
  readonly jobs = new Map<string, StandInJob>();
  readonly models = new Map<string, StandInModelVersion>();
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  conflict = false;
  url = '';
  private readonly operations = new Map<string, string>(); // operation id -> job name
  private readonly statuses: readonly string[];

  constructor(
    readonly token: string,
    private readonly options: AmlStandInOptions,
  ) {
    this.statuses = options.statuses ?? ['Queued', 'Running', 'Completed'];
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  /** Records the request, then answers with an injected fault, a refusal or the route's answer. */
  answer(method: string, target: URL, authorization: string | undefined, text: string): Reply {
    let body: unknown;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      return armError(400, 'UserError', 'The request body is not valid JSON');
    }
    const apiVersion = target.searchParams.get('api-version');
    this.requests.push({ method, path: target.pathname, apiVersion, authorization, body, at: Date.now() });
    const fault = this.faults.shift();
    if (fault !== undefined) {
      if (fault.afterHandling === true && this.refusal(apiVersion, authorization) === undefined)
        this.route(method, target.pathname, body);
      const retryAfter = fault.retryAfterSeconds;
      const headers = retryAfter === undefined ? undefined : { 'Retry-After': String(retryAfter) };
      return armError(fault.status, FAULT_CODES[fault.status], 'Injected fault', headers);
    }
    return this.refusal(apiVersion, authorization) ?? this.route(method, target.pathname, body);
  }

  set(job: StandInJob, status: string): void {
    job.properties.status = status;
    job.lastModifiedAt = this.now();
  }

  /** What the real service refuses before looking at the route: another version, a bad token. */
  private refusal(version: string | null, authorization: string | undefined): Reply | undefined {
    if (version !== API_VERSION) {
      const message = `The api-version '${version ?? ''}' is invalid; supported: '${API_VERSION}'.`;
      return armError(400, 'InvalidApiVersionParameter', message);
    }
    // Deliberately echoes what was presented (ARM does not), so that a test can show the
    // adapter's errors never carry a token whatever the service says.
    if (authorization !== `Bearer ${this.token}`) {
      const message = `The access token is invalid: ${authorization ?? '(none)'}`;
      return armError(401, 'InvalidAuthenticationToken', message);
    }
    return undefined;
  }

  private route(method: string, path: string, body: unknown): Reply {
    const job = JOB_PATH.exec(path);
    if (job !== null) {
      const name = decodeURIComponent(job[4] ?? '');
      const cancel = job[5] !== undefined;
      if (cancel && method === 'POST') return this.cancelJob(path.replace(/\/jobs\/.*$/i, ''), name);
      if (!cancel && method === 'GET') return this.getJob(name);
      if (!cancel && method === 'PUT') return this.putJob(path, name, body);
    }
    const version = MODEL_VERSION_PATH.exec(path);
    if (version !== null) {
      const key = `${decodeURIComponent(version[4] ?? '')}:${decodeURIComponent(version[5] ?? '')}`;
      if (method === 'GET') {
        const found = this.models.get(key);
        return found === undefined
          ? armError(404, 'UserError', `Could not find model version ${key}`)
          : { status: 200, body: modelResource(found) };
      }
      if (method === 'PUT')
        return this.putModelVersion(path, key, decodeURIComponent(version[5] ?? ''), body);
    }
    const operation = OPERATION_PATH.exec(path)?.[4];
    if (operation !== undefined && method === 'GET') return this.operation(operation);
    return armError(404, 'NotFound', `No route for ${method} ${path}`);
  }

  private getJob(name: string): Reply {
    const job = this.jobs.get(name);
    if (job === undefined) return missing(name);
    job.reads += 1;
    const every = this.options.advanceEveryReads ?? 0;
    const next = this.statuses[this.statuses.indexOf(job.properties.status) + 1];
    if (every > 0 && job.reads % every === 0 && next !== undefined) this.set(job, next);
    return { status: 200, body: resource(job) };
  }

  private putJob(id: string, name: string, body: unknown): Reply {
    if (this.conflict) return armError(409, 'Conflict', `Job ${name} is being modified by another request`);
    const problem = commandJobProblem(body);
    if (problem !== undefined) return armError(400, 'UserError', problem);
    const existing = this.jobs.get(name);
    if (existing !== undefined) return { status: 200, body: resource(existing) };
    const { properties } = body as { properties: Record<string, unknown> };
    const now = this.now();
    const status = this.statuses[0] ?? 'Queued';
    const job: StandInJob = {
      id,
      name,
      properties: { ...properties, status },
      createdAt: now,
      lastModifiedAt: now,
      reads: 0,
    };
    this.jobs.set(name, job);
    return { status: 201, body: resource(job) };
  }

  private putModelVersion(id: string, key: string, version: string, body: unknown): Reply {
    if (this.conflict)
      return armError(409, 'Conflict', `Model version ${key} is being modified by another request`);
    const properties = (body as { properties?: unknown } | undefined)?.properties;
    if (typeof properties !== 'object' || properties === null)
      return armError(400, 'UserError', 'properties is required');
    const { modelUri } = properties as { modelUri?: unknown };
    if (typeof modelUri !== 'string' || modelUri === '')
      return armError(400, 'UserError', 'properties.modelUri is required');
    const existing = this.models.get(key);
    if (existing !== undefined) return { status: 200, body: modelResource(existing) };
    const created: StandInModelVersion = {
      id,
      name: version,
      properties: { ...(properties as Record<string, unknown>) },
      createdAt: this.now(),
    };
    this.models.set(key, created);
    return { status: 201, body: modelResource(created) };
  }

  private cancelJob(workspacePath: string, name: string): Reply {
    const job = this.jobs.get(name);
    if (job === undefined) return missing(name);
    if (!TERMINAL.has(job.properties.status)) this.set(job, 'CancelRequested');
    const operation = randomUUID();
    this.operations.set(operation, name);
    const location = `${this.url}${workspacePath}/operationResults/${operation}?api-version=${API_VERSION}`;
    return { status: 202, headers: { Location: location, 'Retry-After': '1' } };
  }

  private operation(id: string): Reply {
    const job = this.jobs.get(this.operations.get(id) ?? '');
    if (job === undefined) return armError(404, 'NotFound', `No operation ${id}`);
    const settles = this.options.cancelSettles !== false;
    if (job.properties.status === 'CancelRequested' && settles) this.set(job, 'Canceled');
    return job.properties.status === 'CancelRequested'
      ? { status: 202, headers: { 'Retry-After': '1' } }
      : { status: 200 };
  }
}

const missing = (name: string): Reply => armError(404, 'UserError', `Could not find job ${name}`);

export async function startAmlStandIn(options: AmlStandInOptions = {}): Promise<AmlStandIn> {
  const api = new JobsApi(options.token ?? `stand-in-${randomUUID()}`, options);
  const dir = testTlsDir();
  const tls = options.tls ?? {
    key: readFileSync(`${dir}server-key.pem`),
    cert: readFileSync(`${dir}server.pem`),
  };
  const server = createServer(tls, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = new URL(request.url ?? '/', 'https://stand-in');
      const text = Buffer.concat(chunks).toString('utf8');
      write(response, api.answer(request.method ?? '', target, request.headers.authorization, text));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: api.url,
    token: api.token,
    requests: api.requests,
    jobs: api.jobs,
    models: api.models,
    fail(fault) {
      for (let i = 0; i < (fault.times ?? 1); i++) api.faults.push(fault);
    },
    conflictOnPut(on) {
      api.conflict = on;
    },
    finish(name, status) {
      const job = api.jobs.get(name);
      if (job === undefined) throw new Error(`the stand-in has no job ${name}`);
      api.set(job, status);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The job as ARM serves it. */
function resource(job: StandInJob): unknown {
  return {
    id: job.id,
    name: job.name,
    type: 'Microsoft.MachineLearningServices/workspaces/jobs',
    properties: job.properties,
    systemData: {
      createdAt: job.createdAt,
      createdBy: 'aml-stand-in',
      createdByType: 'Application',
      lastModifiedAt: job.lastModifiedAt,
      lastModifiedBy: 'aml-stand-in',
      lastModifiedByType: 'Application',
    },
  };
}

/** The model version as ARM serves it. */
function modelResource(version: StandInModelVersion): unknown {
  return {
    id: version.id,
    name: version.name,
    type: 'Microsoft.MachineLearningServices/workspaces/models/versions',
    properties: version.properties,
    systemData: { createdAt: version.createdAt, createdBy: 'aml-stand-in', createdByType: 'Application' },
  };
}

function write(response: ServerResponse, reply: Reply): void {
  const headers = {
    ...(reply.body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    ...reply.headers,
  };
  response
    .writeHead(reply.status, headers)
    .end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
}
