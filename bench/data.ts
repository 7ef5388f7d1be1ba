// Data-pipeline throughput: the reference's CIFAR-10 training pipeline
// (pad-crop + flip + AutoAugment + normalise + random erasing, REFERENCE
// §6.2) producing S views per image, in views per second on ONE thread,
// next to torchvision/Pillow doing the same in one Python process
// (bench/data_torchvision.py, run with /usr/bin/python3). Also reports the
// loader with worker threads. Prints one JSON object.
//
//   npx tsc -p . && node dist/bench/data.js [--images N] [--python /usr/bin/python3]
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import * as path from "node:path";
import { loadCifar10Sample } from "../src/data/sample.js";
import { presetAugmentation, Augmenter } from "../src/data/transforms/pipeline.js";
import { BatchFiller } from "../src/data/batch_fill.js";
import { MultiViewLoader } from "../src/data/loader.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const IMAGES = Number(arg("images", "2000"));
const PYTHON = arg("python", "/usr/bin/python3");
const BATCH = 128;
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");

const dataset = loadCifar10Sample("train");
const augment = presetAugmentation("cifar10", { train: true });

/** Single-thread views/s through the same BatchFiller the loader uses. */
async function tsSingleThread(views: number): Promise<number> {
  const filler = new BatchFiller(dataset, new Augmenter(augment), { seed: 1, views });
  const slot = {
    views: Array.from({ length: views }, () => new Float32Array(BATCH * 3072)),
    labels: new Int32Array(BATCH),
  };
  const order = Int32Array.from({ length: dataset.size }, (_, i) => i);
  const run = async (n: number, epoch: number) => {
    for (let done = 0, b = 0; done < n; b++) {
      const k = Math.min(BATCH, n - done);
      const idx = new Int32Array(k);
      for (let j = 0; j < k; j++) idx[j] = order[(done + j) % order.length];
      await filler.fill(epoch, b, idx, slot);
      done += k;
    }
  };
  await run(512, 0); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  await run(IMAGES, 1);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (IMAGES * views) / s;
}

/** The loader with W worker threads; returns views/s overall. */
async function tsLoader(views: number, workers: number): Promise<number> {
  const loader = new MultiViewLoader({
    dataset,
    augment,
    batchSize: BATCH,
    views,
    seed: 1,
    workers,
  });
  try {
    for await (const b of loader.epoch(0)) void b; // start workers and let their JIT warm up
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const epoch of [1, 2]) for await (const b of loader.epoch(epoch)) n += b.shape[0];
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return (n * views) / s;
  } finally {
    await loader.close();
  }
}

function torchvision(views: number): number | null {
  const r = spawnSync(
    PYTHON,
    [
      path.join(repo, "bench", "data_torchvision.py"),
      "--views",
      String(views),
      "--images",
      String(IMAGES),
    ],
    {
      encoding: "utf8",
      timeout: 600_000,
    },
  );
  if (r.status !== 0) {
    process.stderr.write(`torchvision side failed (${PYTHON}): ${r.error?.message ?? r.stderr}\n`);
    return null;
  }
  return (JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { views_per_s: number })
    .views_per_s;
}

const workers = Math.max(1, os.cpus().length);
const results: Record<string, unknown>[] = [];
for (const S of [1, 2, 4]) {
  const ts = await tsSingleThread(S);
  const loader = await tsLoader(S, workers);
  const tv = torchvision(S);
  results.push({
    S,
    divco_views_per_s_1thread: Math.round(ts),
    torchvision_views_per_s_1process: tv === null ? null : Math.round(tv),
    ratio_per_core: tv === null ? null : +(ts / tv).toFixed(2),
    divco_loader_views_per_s: Math.round(loader),
    loader_workers: workers,
  });
}
console.log(
  JSON.stringify({
    benchmark:
      "data: CIFAR-10 train pipeline (pad-crop, flip, AutoAugment, normalise, erasing), S views per image",
    images: IMAGES,
    batch: BATCH,
    cpus: os.cpus().length,
    node: process.version,
    results,
  }),
);
