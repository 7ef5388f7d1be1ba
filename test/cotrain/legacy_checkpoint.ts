// Test helper: rewrites a checkpoint into format 1, byte for byte what divco wrote before
// format 2: <name>.safetensors with the same tensors and only {format, arch} as metadata, and
// <name>.json with the metadata and the SHA-256 of that file. Old run directories are made
// from new ones this way.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { saveSafetensorsSync } from "../../src/io/safetensors.js";
import {
  checkpointPaths,
  readCheckpoint,
  LEGACY_CHECKPOINT_FORMAT,
} from "../../src/io/run_checkpoint.js";

export function toLegacy(dir: string, name: string): void {
  const { meta, tensors } = readCheckpoint(dir, name);
  const paths = checkpointPaths(dir, name);
  saveSafetensorsSync(paths.tensors, tensors, {
    format: LEGACY_CHECKPOINT_FORMAT,
    arch: meta.arch,
  });
  // Format 1's key order: the position and run fields, then optimiser, hash and time.
  const legacy = {
    format: LEGACY_CHECKPOINT_FORMAT,
    epoch: meta.epoch,
    batchIndex: meta.batchIndex,
    step: meta.step,
    arch: meta.arch,
    split: meta.split,
    bestAcc1: meta.bestAcc1,
    bestEpoch: meta.bestEpoch,
    metrics: meta.metrics,
    partialEpoch: meta.partialEpoch,
    optimizer: meta.optimizer,
    tensorsSha256: createHash("sha256").update(readFileSync(paths.tensors)).digest("hex"),
    savedAt: meta.savedAt,
  };
  writeFileSync(paths.meta, JSON.stringify(legacy, null, 2) + "\n");
}
