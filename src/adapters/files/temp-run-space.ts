import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodBucket, RunSpace, UnitLines } from '../../ports/unit-lines.js';
import { FolderRunStorage } from './folder-run-storage.js';
import { LineSpill } from './line-spill.js';

/**
 * A day's run space in a fresh folder of the local disk (an instance's temporary folder): runs of
 * requests' costs as files, a large unit cut by pod into bucket files; all removed on release.
 */
export async function temporaryRunSpace(parent: string = tmpdir()): Promise<RunSpace> {
  const dir = await mkdtemp(join(parent, 'chargeback-day-'));
  return {
    storage: new FolderRunStorage(join(dir, 'runs')),
    async cutByPod(name: string, lines: UnitLines, count: number): Promise<PodBucket[]> {
      const spill = new LineSpill(join(dir, 'spill', encodeURIComponent(name)), count);
      for await (const batch of lines()) {
        for (const line of batch) spill.add(line);
        await spill.flush();
      }
      return await spill.finish();
    },
    release: () => rm(dir, { recursive: true, force: true }),
  };
}
