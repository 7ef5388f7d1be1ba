// The README's inference example: load a run's best checkpoint as an ensemble in the execution
// mode "auto" picks for batch 1 on this machine, say what it measured, and classify image files
// (JPEG/PNG, or directories of them) through the dataset's evaluation transform.
// Run: node dist/examples/predict.js <runDir> <image or directory> ...
import { infer } from "divco";

const [runDir, ...images] = process.argv.slice(2);
if (!runDir || images.length === 0) {
  console.error("usage: node dist/examples/predict.js <runDir> <image or directory> ...");
  process.exit(2);
}
const ensemble = await infer.Ensemble.load(
  { run: runDir, checkpoint: "best" },
  { mode: "auto", batchSize: 1 },
);
try {
  console.log(`${ensemble.arch} S=${ensemble.split}: ${ensemble.mode} (${ensemble.layout})`);
  for (const c of ensemble.auto?.candidates ?? [])
    console.log(`  ${c.mode}: ${c.medianMs?.toFixed(2) ?? "-"} ms/batch ${c.error ?? ""}`);
  const { predictions, errors } = await ensemble.predictFiles(images, { topk: 3 });
  for (const p of predictions)
    console.log(
      p.file,
      p.top.map((t) => `${t.name ?? t.index} ${(100 * t.probability).toFixed(1)}%`).join(", "),
    );
  for (const e of errors) console.error(`${e.file}: ${e.message}`);
} finally {
  await ensemble.close();
}
