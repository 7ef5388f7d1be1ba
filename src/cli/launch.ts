// `divco launch`: one machine's processes of a distributed run, with the torchrun environment.
// Exit codes: 0 every process finished, 2 usage error, otherwise the first failing process's
// (130 when the run was interrupted with Ctrl-C and saved a checkpoint).
import { launch } from "../dist/launcher.js";
import { DistError } from "../dist/env.js";
import { defineCommand, intFlag, runCommand, stdio, UsageError, type Out } from "./args.js";

export const LAUNCH = defineCommand({
  name: "launch",
  summary: "start a distributed run's processes on this machine (torchrun's environment)",
  usage: [
    "--nproc-per-node N [options] -- divco train ...",
    "--nproc-per-node N --nnodes M --node-rank R --master-addr HOST --master-port P -- divco train ...",
  ],
  description: `Starts N processes running the command after --, each with RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set as torchrun sets them (so a divco started by
torchrun works too). Rank 0 hosts the rendezvous at MASTER_ADDR:MASTER_PORT. On several machines,
run the same command on each with its --node-rank; machine 0 is MASTER_ADDR. Gloo binds the
interface that routes to MASTER_ADDR, or GLOO_SOCKET_IFNAME when set.

When a process fails, the others are stopped; with --max-restarts K all are started again (up to
K times) and \`divco train\` continues from the run's last checkpoint. Ctrl-C reaches every
process once: they stop after the same step and rank 0 saves a checkpoint.`,
  positionals: [
    {
      name: "COMMAND",
      description: "the program and its arguments, after -- (divco: this divco)",
      variadic: true,
    },
  ],
  flags: {
    "nproc-per-node": {
      type: "string",
      value: "N",
      required: true,
      description: "processes on this machine (on a GPU machine: one per GPU)",
    },
    nnodes: { type: "string", value: "M", default: "1", description: "machines in the run" },
    "node-rank": {
      type: "string",
      value: "R",
      default: "0",
      description: "this machine's index, 0 … M−1 (0 hosts rank 0)",
    },
    "master-addr": {
      type: "string",
      value: "HOST",
      default: "127.0.0.1",
      description: "address of machine 0, where rank 0 hosts the rendezvous",
    },
    "master-port": {
      type: "string",
      value: "P",
      description: "port of the rendezvous (default: a free one; required with several machines)",
    },
    "max-restarts": {
      type: "string",
      value: "K",
      default: "0",
      description: "restart all processes up to K times after a failure",
    },
  },
  notes: `Examples:
  divco launch --nproc-per-node 2 -- divco train --arch resnet29 --split 2 --sync-bn --run-dir runs/dp
  divco launch --nproc-per-node 2 -- divco train --arch resnet29 --split 2 --member-parallel --run-dir runs/mp

Exit codes: 0 every process finished, 2 usage error, otherwise the first failing process's code
(130: interrupted, a checkpoint is saved).`,
});

export async function runLaunch(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(
    LAUNCH,
    argv,
    out,
    async ({ values, positionals }) => {
      if (positionals.length === 0)
        throw new UsageError(
          "no command to launch: put it after --, e.g. divco launch --nproc-per-node 2 -- divco train ...",
        );
      return launch({
        nprocPerNode: intFlag("nproc-per-node", values["nproc-per-node"]),
        nnodes: intFlag("nnodes", values.nnodes),
        nodeRank: intFlag("node-rank", values["node-rank"], 0),
        masterAddr: values["master-addr"],
        masterPort:
          values["master-port"] === undefined
            ? null
            : intFlag("master-port", values["master-port"]),
        maxRestarts: intFlag("max-restarts", values["max-restarts"], 0),
        command: positionals,
        log: out.err,
      });
    },
    { usageErrors: [DistError] },
  );
}
