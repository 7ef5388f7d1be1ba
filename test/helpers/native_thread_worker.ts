// Worker-thread side of test/tensor/threads.test.ts: exercises the addon's process-wide state from
// a second JavaScript isolate. Loaded as a plain module by the test runner too, where it does nothing.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { native } from "../../src/tensor/native.js";

interface Job {
  kind: "lookup" | "inference";
  names?: [string, string][];
  rounds?: number;
}

if (!isMainThread && parentPort) {
  const job = workerData as Job;
  if (job.kind === "lookup") {
    // Every round looks every operator up again, so lookups from the workers keep interleaving.
    const ids: number[][] = [];
    for (let r = 0; r < (job.rounds ?? 1); r++)
      ids.push(job.names!.map(([n, o]) => native.opLookup(n, o)));
    parentPort.postMessage({ ids });
  } else {
    const before = native.isInferenceMode();
    const depth = native.enterInferenceMode();
    const inside = native.isInferenceMode();
    native.exitInferenceMode();
    parentPort.postMessage({ before, depth, inside, after: native.isInferenceMode() });
  }
}
