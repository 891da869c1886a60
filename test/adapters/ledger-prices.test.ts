import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import type { Ledger } from '../../src/ports/ledger.js';
import { isolatedServices } from '../helpers/storage.js';

/** The price card last seen, on both adapters: what the daily run's price change check relies on. */
function contract(name: string, make: () => Promise<Ledger>): void {
  describe(`ledger prices seen: ${name}`, () => {
    it('starts empty', async () => {
      expect(await (await make()).pricesSeen()).toEqual(new Map());
    });

    it('returns what was remembered last, forgetting SKUs no longer on the card', async () => {
      const ledger = await make();
      await ledger.rememberPrices(
        new Map([
          ['Standard_NC24ads_A100_v4', 'a'],
          ['Standard_NC48ads_A100_v4', 'b'],
        ]),
      );
      await ledger.rememberPrices(new Map([['Standard_NC24ads_A100_v4', 'c']]));
      expect(await ledger.pricesSeen()).toEqual(new Map([['Standard_NC24ads_A100_v4', 'c']]));
    });

    it('keeps the prices apart from the days to restate', async () => {
      const ledger = await make();
      await ledger.rememberPrices(new Map([['Standard_NC24ads_A100_v4', 'a']]));
      await ledger.markDirty(['2026-11-20'], '2026-11-21T00:00:00.000Z');
      expect((await ledger.dirtyDays('0')).map((d) => d.day)).toEqual(['2026-11-20']);
      expect([...(await ledger.pricesSeen()).keys()]).toEqual(['Standard_NC24ads_A100_v4']);
    });
  });
}

contract('in memory', () => Promise.resolve(new MemoryLedger()));
contract('Azure Storage on Azurite', async () => (await isolatedServices()).ledger);
