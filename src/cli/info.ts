// `divco info`: what the engine was built against and what it can use.
import { defineCommand, runCommand, stdio, type Out } from "./args.js";

export const INFO = defineCommand({
  name: "info",
  summary: "the engine's build: libtorch version, threads, devices",
  description: "Prints the libtorch version, intra-op threads, CUDA devices and oneDNN support.",
  flags: {
    json: { type: "boolean", description: "print one JSON object" },
  },
});

export async function runInfo(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(INFO, argv, out, async ({ values }) => {
    // Loaded here, not at the top, so `divco info --help` and usage errors never load libtorch.
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
    if (values.json) out.log(JSON.stringify(info));
    else for (const [k, v] of Object.entries(info)) out.log(`${k.padEnd(16)} ${v}`);
    return 0;
  });
}
