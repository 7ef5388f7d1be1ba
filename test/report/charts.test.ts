// The report's charts rendered on the server (vega-lite → vega SVG → resvg PNG): every chart
// renders without a warning, draws one line per series and one symbol per point, carries its
// axis titles, and its PNG is the SVG at twice the size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReport, type ReportData } from "../../src/report/report_data.js";
import { readRun } from "../../src/report/run_report.js";
import { readLatencyFile } from "../../src/report/latency_file.js";
import {
  labelQuadrants,
  reportCharts,
  tradeoffSeries,
  type ChartSpec,
} from "../../src/report/charts.js";
import { inlineSvg, renderPng, renderSvg } from "../../src/report/render.js";
import { fixture, fixtureRuns, stubCounts, tmpDir, writeRun } from "./helpers.js";

/** How many `<g class="mark-<type> role-mark <name>_marks">` groups, and their items. */
function marks(svg: string, name: string): { groups: number; items: number } {
  const re = new RegExp(`<g class="mark-(\\w+) role-mark ${name}_marks"[^>]*>(.*?)</g>`, "g");
  let groups = 0;
  let items = 0;
  for (const m of svg.matchAll(re)) {
    groups++;
    items += (m[2].match(/<(path|line|text)\b/g) ?? []).length;
  }
  return { groups, items };
}

function axisTitles(svg: string): string[] {
  return [...svg.matchAll(/role-axis-title[^>]*>(?:<[^>]+>)*?<text[^>]*>([^<]*)<\/text>/g)].map(
    (m) => m[1],
  );
}

async function render(c: ChartSpec): Promise<string> {
  const warnings: string[] = [];
  const svg = await renderSvg(c.spec, warnings);
  assert.deepEqual(warnings, [], `${c.id} renders without warnings`);
  return svg;
}

function sampleData(): ReportData {
  return buildReport(fixtureRuns("sample_runs").map(readRun), {
    counts: stubCounts,
    latency: readLatencyFile(fixture("latency_sample.json")),
  });
}

test("every chart of the sample runs renders with its series, points and axis titles", async () => {
  const data = sampleData();
  const charts = reportCharts(data);
  assert.deepEqual(
    charts.map((c) => c.id),
    [
      "tradeoff-params",
      "tradeoff-macs",
      "tradeoff-latency",
      "seeds-top1",
      "curves-resnet29-S1-seed0",
      "curves-resnet29-S1-seed1",
      "curves-resnet29-S2-seed0",
      "curves-resnet29-S2-seed1",
      "curves-resnet29-S4-seed0",
    ],
  );
  for (const c of charts) {
    const svg = await render(c);
    if (c.id.startsWith("tradeoff-")) {
      // One series (resnet29 · cifar10) through S = 1, 2, 4; min–max bars where two seeds ran.
      assert.deepEqual(marks(svg, "tradeoff_line"), { groups: 1, items: 1 }, c.id);
      assert.equal(marks(svg, "tradeoff_point").items, 3, c.id);
      assert.equal(marks(svg, "tradeoff_spread").items, 2, c.id);
      const labels = [...svg.matchAll(/tradeoff_label_\w+_marks[^>]*>(.*?)<\/g>/g)]
        .flatMap((m) => [...m[1].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]))
        .sort();
      assert.deepEqual(
        labels,
        c.id === "tradeoff-latency"
          ? ["S=1", "S=2 fused", "S=4 concurrent"]
          : ["S=1", "S=2", "S=4"],
      );
      const t = data.tradeoffs.find((x) => `tradeoff-${x.kind}` === c.id)!;
      assert.deepEqual(axisTitles(svg), [t.xTitle, "final ensemble top-1 (%)"]);
    } else if (c.id === "seeds-top1") {
      assert.deepEqual(marks(svg, "seeds_line"), { groups: 2, items: 2 });
      assert.deepEqual(marks(svg, "seeds_band"), { groups: 2, items: 2 });
      assert.equal(marks(svg, "seeds_point").items, 6);
    } else {
      const split = Number(/S(\d)/.exec(c.id)![1]);
      // The ensemble and each member, a point per epoch of each.
      assert.deepEqual(marks(svg, "top1_line"), {
        groups: split > 1 ? split + 1 : 1,
        items: split > 1 ? split + 1 : 1,
      });
      assert.equal(marks(svg, "top1_point").items, 3 * (split > 1 ? split + 1 : 1));
      assert.equal(marks(svg, "loss_line").groups, 2);
      assert.equal(marks(svg, "lr_line").groups, 1);
      assert.equal(marks(svg, "cot_line").groups, split > 1 ? 1 : 0);
      assert.deepEqual(
        axisTitles(svg).filter((a) => a !== "epoch"),
        ["top-1 (%)", "loss", "learning rate", ...(split > 1 ? ["weight w"] : [])],
      );
    }
    const png = renderPng(svg);
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    const [, sw, sh] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    assert.deepEqual([w, h], [2 * sw, 2 * sh], `${c.id}: PNG at twice the SVG's size`);
  }
});

test("the paper's reference series is drawn dashed with diamonds beside the measured one", async () => {
  const root = tmpDir();
  const dirs = [1, 2, 4].map((s) =>
    writeRun(
      root,
      `r110-s${s}`,
      { arch: "resnet110", split: s, seed: 0, epochs: 1, dataset: "cifar100" },
      [78 + s],
    ),
  );
  const data = buildReport(dirs.map(readRun), { counts: stubCounts });
  const chart = reportCharts(data).find((c) => c.id === "tradeoff-params")!;
  assert.deepEqual(tradeoffSeries(data.tradeoffs[0]), [
    "resnet110 · cifar100",
    "paper: resnet110 · cifar100 (Table II, 300 epochs)",
  ]);
  const svg = await render(chart);
  assert.deepEqual(marks(svg, "tradeoff_line"), { groups: 2, items: 2 });
  assert.equal(marks(svg, "tradeoff_point").items, 6);
  assert.equal(marks(svg, "tradeoff_spread").groups, 0, "one seed each: no bars");
  assert.match(svg, /stroke-dasharray="6,4"/);
  assert.match(svg, />paper: resnet110 · cifar100 \(Table II, 300 epochs\)</);
  assert.match(svg, />paper \(reported\)</);
});

test("a run logged without loss or learning rate (an older log) gets its accuracy panel only", async () => {
  const data = buildReport([readRun(fixtureRuns("cifar10_short")[2])], { counts: stubCounts });
  const c = reportCharts(data).find((x) => x.id.startsWith("curves-"))!;
  const svg = await render(c);
  assert.equal(marks(svg, "top1_line").groups, 3);
  assert.equal(marks(svg, "loss_line").groups, 0);
  assert.match(c.caption, /has no loss or learning-rate columns/);
});

test("labels sit on the side of their point that no line leaves by", () => {
  const p = (split: number, x: number, top1: number) => ({
    series: "a",
    source: "measured" as const,
    arch: "a",
    dataset: "cifar10",
    split,
    label: `S=${split}`,
    x,
    top1,
    top1Min: top1,
    top1Max: top1,
    n: 1,
  });
  // S=1's line rises to the right: its label goes below; the others keep the up-right default.
  assert.deepEqual(labelQuadrants([p(1, 1, 10), p(2, 2, 12), p(4, 3, 11)]), ["lr", "ur", "ur"]);
  // S=2 has lines to the upper right (S=1) and lower right (S=4): its label goes up-left.
  assert.deepEqual(labelQuadrants([p(1, 3, 20), p(2, 2, 18), p(4, 4, 16)]), ["ur", "ul", "ur"]);
});

test("inlined SVGs get chart-specific ids, so two charts on one page do not share a clip path", () => {
  const svg =
    '<svg><clipPath id="clip1"><rect/></clipPath><g clip-path="url(#clip1)"/><use href="#clip1"/></svg>';
  assert.equal(
    inlineSvg(svg, "c"),
    '<svg><clipPath id="c-clip1"><rect/></clipPath><g clip-path="url(#c-clip1)"/><use href="#c-clip1"/></svg>',
  );
});
