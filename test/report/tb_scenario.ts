// Replays a scripted sequence of EventWriter calls with a fixed clock, so the bytes are
// reproducible. scripts/fixtures/report/make_tensorboard_fixtures.py replays the committed
// scenario, has TensorBoard's own reader check the files, and commits them; the test replays
// it again and requires identical bytes, tying today's encoder to what TensorBoard accepted.
import { EventWriter } from "../../src/report/tensorboard.js";

export type ScenarioOp = [
  kind: "scalar",
  tag: string,
  value: number,
  step: number,
  wallTime: number,
];

/** One EventWriter instance (one file), opened when the clock reads `now`. */
export interface ScenarioWriter {
  now: number;
  startStep: number;
  ops: ScenarioOp[];
}

export interface Scenario {
  writers: ScenarioWriter[];
}

/** Writes one event file per scenario writer into `dir`; returns their paths in order. */
export function replayScenario(scenario: Scenario, dir: string): string[] {
  return scenario.writers.map((w) => {
    const writer = new EventWriter(dir, { now: () => w.now, startStep: w.startStep });
    for (const [, tag, value, step, wallTime] of w.ops) writer.scalar(tag, value, step, wallTime);
    writer.close();
    return writer.path;
  });
}
