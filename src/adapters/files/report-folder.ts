import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dayPath } from '../../domain/days.js';
import { ConfigurationError } from '../../domain/errors.js';
import type { DailyReportSource } from '../../ports/report-store.js';

/**
 * The daily reports of a folder: as `chargeback report` writes them (chargeback-DATE.csv and
 * metrics-DATE.json side by side), or as the reports container holds them, downloaded
 * (chargeback/YYYY/MM/DD/ under the folder). A day found in both is read from the flat file.
 */
export function folderSource(dir: string): DailyReportSource {
  const readOne = async (path: string): Promise<string | undefined> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new ConfigurationError(`cannot read ${path}: ${(error as Error).message}`);
    }
  };
  const read = async (day: string, name: string): Promise<string | undefined> =>
    (await readOne(join(dir, name))) ?? (await readOne(join(dir, 'chargeback', dayPath(day), name)));
  return {
    csv: (day) => read(day, `chargeback-${day}.csv`),
    metrics: (day) => read(day, `metrics-${day}.json`),
  };
}
