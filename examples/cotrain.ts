// The README's library example: co-train two resnet29 members on the embedded CIFAR-10 sample
// with a callback per epoch, then print the best epoch's ensemble top-1 (best by ensemble top-1,
// as the reference's model_best: REFERENCE.md §4). Its weights are the run's `best` checkpoint;
// `divco eval --run <runDir>` evaluates it. Run: node dist/examples/cotrain.js [runDir]
import { cotrain } from "divco";

const runDir = process.argv[2] ?? `runs/example-${Date.now()}`;
const result = await cotrain.train(
  {
    arch: "resnet29",
    split: 2,
    dataset: "cifar10",
    data: "sample",
    epochs: 2,
    warmupEpochs: 1,
    cotWarmupEpochs: 1,
    batchSize: 64,
    runDir,
  },
  {
    callbacks: {
      onEpoch: (e) =>
        console.log(
          `epoch ${e.epoch + 1}: ensemble ${e.eval.top1.toFixed(1)}%, members ${e.eval.memberTop1.map((v) => v.toFixed(1)).join("/")}%`,
        ),
    },
  },
);
console.log(
  `best ensemble top-1 ${result.bestAcc1.toFixed(1)}% (epoch ${result.bestEpoch}); run in ${result.runDir}`,
);
