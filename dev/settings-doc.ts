/** Rewrites the settings table of docs/configuration.md from src/composition/settings.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../src/composition/settings-doc.js';

const path = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(path, withSettingsTable(readFileSync(path, 'utf8')));
