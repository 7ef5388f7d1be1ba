// Helpers for the report tests: fixture paths, JSON reading, temporary directories.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** test/fixtures/report, found from the compiled file's location (dist/test/report/). */
export const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../test/fixtures/report",
);

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** A fresh temp directory, removed when the process exits. */
export function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "divco-report-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The run directories of a fixture directory of runs (sample_runs, cifar10_short), sorted. */
export function fixtureRuns(name: string): string[] {
  const dir = fixture(name);
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(path.join(dir, d, "config.json")))
    .sort()
    .map((d) => path.join(dir, d));
}

/** A run's metrics.jsonl parsed line by line, independently of the report's reader. */
export function metricsRows(runDir: string): Record<string, number>[] {
  return fs
    .readFileSync(path.join(runDir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, number>);
}

/**
 * Params/MACs without building models: distinct, recognisable numbers per (arch, S) so a test can
 * tell which run a point came from (params = 1e6·(S + 0.5·[arch ≠ resnet29]), MACs = 10× that).
 */
export function stubCounts(arch: string, split: number) {
  const params = 1e6 * (split + (arch === "resnet29" ? 0 : 0.5));
  return {
    params,
    macs: params * 10,
    memberParams: Array<number>(split).fill(params / split),
    memberMacs: Array<number>(split).fill((params * 10) / split),
  };
}

/** Writes a minimal run directory (config.json + metrics.jsonl) with the given final top-1s. */
export function writeRun(
  root: string,
  name: string,
  cfg: { arch: string; split: number; seed: number; epochs: number; dataset?: string } & Record<
    string,
    unknown
  >,
  top1: number[],
): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg));
  const lines = top1.map((v, i) =>
    JSON.stringify({
      epoch: i + 1,
      val_acc1: v,
      val_acc5: v + 20,
      ...Object.fromEntries(
        Array.from({ length: cfg.split }, (_, m) => [`val_acc1_member${m}`, v - 1 - m]),
      ),
      train_loss: 2 - i * 0.1,
      val_loss: 2.1 - i * 0.1,
      lr: 0.1 / (i + 1),
      cot_weight: 0.5,
      epoch_seconds: 10,
      train_images_per_s: 100,
    }),
  );
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
  return dir;
}
