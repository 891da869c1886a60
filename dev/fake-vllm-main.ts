// Runs the fake vLLM in a process of its own (for benchmarks): prints its port, stops on SIGTERM.
import { FakeVllm } from './fake-vllm.js';

const fake = new FakeVllm();
const url = await fake.start(Number(process.argv[2] ?? 0));
// Nothing to remember per request in a benchmark.
fake.seen.push = () => 0;
process.stdout.write(`${url.port}\n`);
process.once('SIGTERM', () => {
  void fake.stop().then(() => process.exit(0));
});
