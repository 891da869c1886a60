import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from '../../domain/errors.js';
import type { DailyReportSource } from '../../ports/report-store.js';

/** The daily reports of a folder as `chargeback report` writes them: chargeback-DATE.csv, metrics-DATE.json. */
export function folderSource(dir: string): DailyReportSource {
  const read = async (name: string): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigurationError(`cannot read ${join(dir, name)}: ${(error as Error).message}`);
    }
  };
  return { csv: (day) => read(`chargeback-${day}.csv`), metrics: (day) => read(`metrics-${day}.json`) };
}
