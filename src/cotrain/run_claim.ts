// Claiming a run directory: its lock first (creating the directory for a new run), then — owning
// it, so no other process is writing — the checkpoint a resume continues from and the config
// resolved against it. One process claims a run: a single-process run, or rank 0 of a
// distributed one (the other ranks never touch the directory).
import type { TrainConfig } from "./config.js";
import { assertNoRunIn, assertResumable, resolveRunConfig, type TrainInput } from "./run_config.js";
import { planResume, type ResumePlan } from "./resume.js";
import { claimRunDir, type RunDirClaim } from "./run_lock.js";

/** A run directory this process owns, its configuration, and where a resume continues from. */
export interface ClaimedRun {
  config: TrainConfig;
  claim: RunDirClaim;
  /** Absent for a new run. */
  plan?: ResumePlan;
  notes: string[];
}

/** Claims the run directory for `user`'s run; a failure releases the lock and removes a directory it created. */
export function claimRun(
  user: TrainInput,
  resume: boolean,
  out: NodeJS.WritableStream | null,
): ClaimedRun {
  if (!resume) {
    const { config, notes } = resolveRunConfig(user, false);
    const claim = claimRunDir(config.runDir, { create: true, out });
    try {
      // Another process may have filled the directory between the check and the claim.
      assertNoRunIn(config.runDir);
    } catch (e) {
      claim.release();
      throw e;
    }
    return { config, claim, notes };
  }
  assertResumable(user.runDir);
  const claim = claimRunDir(user.runDir, { create: false, out });
  try {
    const plan = planResume(user.runDir);
    const stored = plan.from?.meta.config;
    const { config, notes } = resolveRunConfig(
      user,
      true,
      stored ? { name: plan.from!.name, config: stored } : undefined,
    );
    if (plan.from && !stored)
      plan.notes.push(
        "its checkpoint does not hold the run's configuration (an earlier divco): config.json is used unchecked",
      );
    return { config, claim, plan, notes: [...plan.notes, ...notes] };
  } catch (e) {
    claim.release();
    throw e;
  }
}
