// The reference for the report benchmark: read every line of the file and JSON.parse it, nothing else.
import { readLineBatches } from '../src/adapters/files/ndjson.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: bare-pass FILE');
let parsed = 0;
for await (const batch of readLineBatches(file)) {
  for (const line of batch) {
    JSON.parse(line.text);
    parsed += 1;
  }
}
process.stdout.write(`${JSON.stringify({ parsed })}\n`);
