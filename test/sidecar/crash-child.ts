/**
 * A sidecar process for the crash test, run by node with tsx: the real startSidecar and crash
 * handler, with a file sink whose sends can be made to hang (as a stalled Event Hubs connection
 * does), and a way to make the process crash. Commands arrive over IPC: `stall`, `throw` (an
 * uncaught exception) and `reject` (an unhandled rejection). Not a test file: vitest runs *.test.ts.
 */
import { loadSidecarSettings } from '../../src/sidecar/settings.js';
import { spoolOnCrash, startSidecar } from '../../src/sidecar/sidecar.js';
import { FileSender } from '../../src/sidecar/senders.js';
import type { Sender } from '../../src/sidecar/pipe.js';

const [upstream, sink, spool] = process.argv.slice(2) as [string, string, string];
const files = new FileSender(sink, 'vllm-crash-0');
let stalled = false;
const sender: Sender = {
  send: (events) => (stalled ? new Promise(() => undefined) : files.send(events)),
  close: () => Promise.resolve(),
};
const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
const settings = loadSidecarSettings(
  { upstream, listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', sink: `file:${sink}`, spoolDir: spool },
  {
    POD_NAME: 'vllm-crash-0',
    GPU_SKU: 'Standard_NC24ads_A100_v4',
    GPU_COUNT: '1',
    MODEL_NAME: 'fake-model',
    SIDECAR_CAPACITY_WINDOW_SECONDS: '3600',
  },
);
const sidecar = await startSidecar(settings, sender, log);
spoolOnCrash(sidecar, log);
process.on('message', (command: string) => {
  if (command === 'stall') {
    stalled = true;
    process.send?.('stalled');
  } else if (command === 'throw') {
    setImmediate(() => {
      throw new Error('a request handler failed');
    });
  } else if (command === 'reject') {
    void Promise.reject(new Error('a promise nobody awaited failed'));
  }
});
const address = sidecar.proxy.address();
process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
