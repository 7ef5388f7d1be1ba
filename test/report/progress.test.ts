// Progress bars: number/duration formatting, TTY redraws, plain-line output without a TTY.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { Progress, formatDuration, formatNumber } from "../../src/report/progress.js";

/** A stream that records what was written, and a clock the test moves by hand. */
function harness(columns?: number) {
  let text = "";
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    }),
    { columns },
  );
  let ms = 0;
  return {
    stream,
    now: () => ms,
    advance: (d: number) => (ms += d),
    take: () => {
      const t = text;
      text = "";
      return t;
    },
  };
}

test("formats numbers and durations compactly", () => {
  assert.equal(formatNumber(1234), "1234");
  assert.equal(formatNumber(2.302585), "2.303");
  assert.equal(formatNumber(0.000123456), "0.0001235");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatDuration(5), "0:05");
  assert.equal(formatDuration(83.4), "1:23");
  assert.equal(formatDuration(3 * 3600 + 62), "3:01:02");
});

test("on a TTY: one line redrawn in place, at most every 100 ms, with ETA from the rate", () => {
  const h = harness();
  const p = new Progress({
    total: 100,
    label: "epoch 1/3",
    stream: h.stream,
    isTTY: true,
    now: h.now,
  });
  p.update(0, {});
  assert.equal(h.take(), "\repoch 1/3 [--------------------] 0/100 | ETA ?\x1b[K");
  h.advance(50);
  p.update(1, { loss: 2.5 });
  assert.equal(h.take(), "", "no redraw within 100 ms");
  h.advance(950);
  p.update(10, { loss: 2.25, "img/s": 1280 }); // 10 steps/s
  assert.equal(
    h.take(),
    "\repoch 1/3 [##------------------] 10/100 loss 2.25 img/s 1280 | ETA 0:09\x1b[K",
  );
  p.log("checkpoint saved");
  assert.equal(
    h.take(),
    "\r\x1b[Kcheckpoint saved\n\repoch 1/3 [##------------------] 10/100 loss 2.25 img/s 1280 | ETA 0:09\x1b[K",
    "a logged line clears the bar and the bar comes back under it",
  );
  h.advance(9000);
  p.update(100, { loss: 1.5 });
  assert.match(h.take(), /100\/100 loss 1\.5 \| ETA 0:00/);
  p.done({ val_acc1: 41.25 });
  assert.equal(
    h.take(),
    "\repoch 1/3: 100/100 in 0:10, 10 steps/s loss 1.5 val_acc1 41.25\x1b[K\n",
  );
  p.update(100, {});
  p.done();
  assert.equal(h.take(), "", "nothing after done()");
});

test("on a TTY the line is cut to the terminal width", () => {
  const h = harness(30);
  const p = new Progress({
    total: 10,
    label: "a-long-label",
    stream: h.stream,
    isTTY: true,
    now: h.now,
  });
  p.update(1, { loss: 1.234567 });
  const line = h.take();
  assert.equal(line.replace("\r", "").replace("\x1b[K", "").length, 29);
});

test("without a TTY: plain lines every 10 % or 30 s, and a summary at the end", () => {
  const h = harness();
  const p = new Progress({
    total: 1000,
    label: "epoch 2/3",
    stream: h.stream,
    isTTY: false,
    now: h.now,
  });
  p.update(0, {});
  const lines: string[] = [];
  for (let i = 1; i <= 1000; i++) {
    h.advance(i <= 70 ? 1000 : 10); // a slow start (70 s), then 100 steps/s
    p.update(i, { loss: 1 });
  }
  p.done();
  lines.push(...h.take().trimEnd().split("\n"));
  assert.ok(!lines.join("").includes("\r"), "no carriage returns in logs");
  // 30 s and 10 % (steps 30, 60, 100..900), then the summary.
  assert.deepEqual(
    lines.map((l) => l.match(/step (\d+)\//)?.[1] ?? "summary"),
    ["30", "60", "100", "200", "300", "400", "500", "600", "700", "800", "900", "summary"],
  );
  assert.match(lines[0], /^epoch 2\/3 step 30\/1000 \(3%\) loss 1 \| ETA 16:10$/);
  assert.match(
    lines[10],
    /step 900\/1000 \(90%\) loss 1 \| ETA 0:01$/,
    "the smoothed rate forgot the slow start",
  );
  assert.equal(lines[11], "epoch 2/3: 1000/1000 in 1:19, 12.61 steps/s loss 1");
});

test("a loop resumed half way measures only the work it does", () => {
  const h = harness();
  const p = new Progress({ total: 100, label: "e", stream: h.stream, isTTY: false, now: h.now });
  p.update(50, {});
  h.advance(1000);
  p.update(60, {});
  h.take();
  h.advance(1000);
  p.update(70, {});
  p.done();
  assert.equal(h.take().trimEnd().split("\n").pop(), "e: 70/100 in 0:02, 10 steps/s");
});
