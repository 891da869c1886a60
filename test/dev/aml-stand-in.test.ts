import { afterEach, describe, expect, it } from 'vitest';
import { startAmlStandIn, type AmlStandIn } from '../../dev/aml-stand-in.js';
import { sampleJob } from '../helpers/retraining.js';

const JOB = sampleJob();
const WORKSPACE =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

let standIn: AmlStandIn | undefined;

afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function call(
  server: AmlStandIn,
  method: string,
  path: string,
  options: { body?: unknown; version?: string; token?: string } = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}?api-version=${options.version ?? '2022-10-01'}`, {
    method,
    headers: { authorization: `Bearer ${options.token ?? server.token}`, 'content-type': 'application/json' },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

const put = (server: AmlStandIn, body: unknown = { properties: JOB.body }) =>
  call(server, 'PUT', `${WORKSPACE}/jobs/${JOB.name}`, { body });
const status = async (server: AmlStandIn): Promise<unknown> =>
  ((await call(server, 'GET', `${WORKSPACE}/jobs/${JOB.name}`)).body as { properties: { status: string } })
    .properties.status;

describe('the Azure ML stand-in', () => {
  it('refuses another api-version with an ARM error body', async () => {
    standIn = await startAmlStandIn();
    expect(await call(standIn, 'GET', `${WORKSPACE}/jobs/x`, { version: '2024-04-01' })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidApiVersionParameter' } },
    });
  });

  it('refuses a PUT without a PyTorch distribution', async () => {
    standIn = await startAmlStandIn();
    const reply = await put(standIn, {
      properties: { ...JOB.body, distribution: { distributionType: 'Mpi' } },
    });
    expect(reply).toMatchObject({ status: 400, body: { error: { code: 'UserError' } } });
  });

  it('answers a PUT of an existing name with 200 and the job as it was (ARM semantics)', async () => {
    standIn = await startAmlStandIn();
    await put(standIn);
    standIn.finish(JOB.name, 'Running');
    expect(await put(standIn)).toMatchObject({ status: 200, body: { properties: { status: 'Running' } } });
  });

  it('moves a job one status on every N reads when so configured', async () => {
    standIn = await startAmlStandIn({ advanceEveryReads: 1 });
    await put(standIn);
    expect([await status(standIn), await status(standIn), await status(standIn)]).toEqual([
      'Running',
      'Completed',
      'Completed',
    ]);
  });

  it('keeps a job where it is by default, until finish', async () => {
    standIn = await startAmlStandIn();
    await put(standIn);
    expect([await status(standIn), await status(standIn)]).toEqual(['Queued', 'Queued']);
  });
});
