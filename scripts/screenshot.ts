/**
 * `node --import tsx scripts/screenshot.ts PAGE.html OUT.png`: a full-page screenshot of a report
 * page in Debian's headless Chromium, as a reader's laptop shows it (1,000 px wide). The image in
 * docs/img/ was taken of the monthly page `npm start` writes (out/release/monthly/report-2026-11.html).
 */
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from './chromium.js';

const [page, out] = process.argv.slice(2);
if (page === undefined || out === undefined) {
  process.stderr.write('usage: node --import tsx scripts/screenshot.ts PAGE.html OUT.png\n');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
try {
  const tab = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await tab.goto(`file://${resolve(page)}`);
  await tab.screenshot({ path: out, fullPage: true });
} finally {
  await browser.close();
}
