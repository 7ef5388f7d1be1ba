// Moving state between ranks: a module's parameters and buffers (broadcast in place), and any
// named set of tensors plus a JSON-able note (serialised as safetensors bytes and broadcast) —
// how rank 0 hands a restored checkpoint to ranks on machines that cannot read its run
// directory, and how member-parallel ranks bring their members to rank 0 for a checkpoint.
import type { Module } from "../nn/module.js";
import { tensor } from "../tensor/creation.js";
import { native } from "../tensor/native.js";
import type { Tensor } from "../tensor/tensor.js";
import { encodeSafetensors, readSafetensors } from "../io/safetensors.js";
import { recordToTensor, tensorToRecord } from "../io/tensors.js";
import type { TensorRecord } from "../io/record.js";
import type { ProcessGroup } from "./group.js";

/** Overwrites `module`'s parameters and buffers on every rank with group rank `root`'s. */
export async function broadcastModule(
  module: Module,
  group: ProcessGroup,
  root = 0,
): Promise<void> {
  if (group.size < 2) return;
  await group.broadcast([...module.parameters(), ...module.buffers()], root);
}

/** Group rank `root`'s bytes on every rank (`bytes` is read on root only). */
export async function broadcastBytes(
  group: ProcessGroup,
  bytes: Uint8Array | null,
  root = 0,
): Promise<Uint8Array> {
  const mine = group.rank === root;
  if (mine && !bytes) throw new RangeError("broadcastBytes: the root must give bytes");
  const device = group.device as "cpu";
  using length = tensor(new Float64Array([mine ? bytes!.byteLength : 0]), { device });
  await group.broadcast([length], root);
  const n = length.item();
  using data = tensor(mine ? bytes! : new Uint8Array(n), { dtype: "u8", device });
  await group.broadcast([data], root);
  return mine ? bytes! : new Uint8Array(native.toBytes(data.handle));
}

/** What `broadcastState` carries: named tensors and a JSON-able note. */
export interface StateMessage {
  tensors: Map<string, Tensor>;
  note: unknown;
}

/**
 * Group rank `root`'s tensors (copied to CPU) and note on every rank. Non-root ranks get new
 * CPU tensors they own; the root gets its own map back.
 */
export async function broadcastState(
  group: ProcessGroup,
  message: StateMessage | null,
  root = 0,
): Promise<StateMessage> {
  const mine = group.rank === root;
  let bytes: Uint8Array | null = null;
  if (mine) {
    if (!message) throw new RangeError("broadcastState: the root must give the state");
    const records = new Map<string, TensorRecord>();
    for (const [k, t] of message.tensors) records.set(k, tensorToRecord(t));
    bytes = encodeSafetensors(records, { note: JSON.stringify(message.note ?? null) });
  }
  const received = await broadcastBytes(group, bytes, root);
  if (mine) return message!;
  const { tensors, metadata } = readSafetensors(received);
  const out = new Map<string, Tensor>();
  for (const [k, r] of tensors) out.set(k, recordToTensor(r));
  return { tensors: out, note: JSON.parse(metadata?.note ?? "null") as unknown };
}
