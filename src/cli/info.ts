// `divco info`: what the engine was built against and what it can use.
import { parseArgs } from "node:util";

export async function runInfo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    process.stdout.write("Usage: divco info [--json]\n\nPrints the libtorch version, intra-op threads, CUDA devices and oneDNN support.\n");
    return 0;
  }
  const T = await import("../tensor/index.js");
  const b = T.buildInfo();
  const info = {
    libtorch: b.torchVersion,
    threads: T.getNumThreads(),
    cuda_devices: T.cudaDeviceCount(),
    built_with_cuda: b.builtWithCuda,
    onednn: b.mkldnn,
    node: process.version,
  };
  if (values.json) process.stdout.write(JSON.stringify(info) + "\n");
  else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
  return 0;
}
