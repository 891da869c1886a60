/**
 * A worker thread of `chargeback report`: computes the units it is sent (read, de-duplicate,
 * allocate), each from its spill files on local disk, writes the unit's runs (requests' costs and
 * refused lines) beside the main thread's, and posts back the unit's small results in the day
 * codec's text forms (src/domain/day-codec.ts), so the main thread merges them as it merges its own.
 */
import { parentPort } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { FolderRunStorage } from '../adapters/files/folder-run-storage.js';
import { readFrames } from '../adapters/files/line-spill.js';
import { deploymentKey, podEquations, type Deployment } from '../domain/calibration/calibrate.js';
import { encodeChargeback, encodeFitEquations, encodeIntake } from '../domain/day-codec.js';
import type { Weighting } from '../domain/weighting.js';
import { loadPriceCard } from '../domain/prices.js';
import { allocateUnit, readUnit, type DaySettings } from '../usecases/day/unit.js';
import type { UnitLines } from '../ports/unit-lines.js';
import { rejectedRunLines, type WorkerReply, type WorkerRequest } from './report-units.js';

const port = parentPort;
if (port === null) throw new Error('report-worker runs as a worker thread');

let setup:
  Promise<{ settings: DaySettings; files: readonly string[]; storage: FolderRunStorage }> | undefined;

port.on('message', (request: WorkerRequest) => {
  if (request.kind === 'init') {
    setup = (async () => ({
      settings: {
        ...request.settings,
        prices: loadPriceCard(JSON.parse(await readFile(request.pricesPath, 'utf8'))),
      },
      files: request.files,
      storage: new FolderRunStorage(request.runsDir),
    }))();
    return;
  }
  void (async (): Promise<WorkerReply> => {
    try {
      if (setup === undefined) throw new Error('report-worker: a unit before init');
      const { settings, files, storage } = await setup;
      const lines: UnitLines = async function* () {
        for (const path of request.spills) yield* readFrames(path);
      };
      const calibrated = request.calibrated;
      const weightings = new Map(calibrated?.weightings ?? []);
      const weightingFor = (d: Deployment): Weighting | undefined => weightings.get(deploymentKey(d));
      // The second pass of a calibrated day reads the unit again: its refused lines are written once.
      const again = calibrated?.pass === 'allocate';
      const rejected = again ? undefined : storage.create(request.rejectedRun);
      const read = await readUnit(
        lines,
        settings,
        rejected === undefined
          ? {}
          : { onRejected: (refused) => rejected.write(rejectedRunLines(files, refused)) },
      );
      await rejected?.close();
      const settled = new Set(calibrated?.pass === 'equations' ? calibrated.settled : []);
      const equations =
        calibrated?.pass === 'equations' ? podEquations(read.usage, (k) => settled.has(k)) : [];
      const allocated =
        equations.length > 0
          ? undefined
          : await allocateUnit(read, settings, {
              storage,
              run: request.run,
              ...(calibrated === undefined ? {} : { weightingFor }),
            });
      const ids = read.ids;
      return {
        kind: 'done',
        id: request.id,
        intake: encodeIntake(read.intake),
        replicas: read.replicas,
        ids: ids.buffer as ArrayBuffer,
        conflicts: read.conflicts,
        ...(allocated === undefined
          ? {}
          : {
              allocated: { chargeback: encodeChargeback(allocated.chargeback), requests: allocated.requests },
            }),
        ...(equations.length === 0
          ? {}
          : {
              equations: equations.map((e) => ({
                pod: e.pod,
                deployment: e.deployment,
                equations: encodeFitEquations(e.equations),
              })),
            }),
      };
    } catch (error) {
      return { kind: 'error', id: request.id, message: (error as Error).stack ?? String(error) };
    }
  })().then((reply) => {
    port.postMessage(reply, reply.kind === 'done' ? [reply.ids] : []);
  });
});
