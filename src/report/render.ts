// Server-side rendering of the report's charts, no browser involved: vega-lite compiles a spec to
// vega, vega's headless view renders it to SVG (text widths are estimated, as no canvas is
// installed), and resvg rasterises that SVG to PNG with the machine's fonts (DejaVu on Debian).
import { Resvg } from "@resvg/resvg-js";
import { logger, parse, View, Warn } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { CHART_FONT } from "./charts.js";

/**
 * The chart as a standalone SVG document. Warnings of vega-lite and vega (a spec that does not
 * quite say what was meant) are collected into `warnings` instead of being printed.
 */
export async function renderSvg(spec: TopLevelSpec, warnings: string[] = []): Promise<string> {
  const log = logger(Warn, undefined, (_method, _level, args) => {
    warnings.push(args.map(String).join(" "));
  });
  const vg = compile(spec, { logger: log }).spec;
  // Legends below a chart are stacked, not side by side, so the chart keeps its width (a vega
  // setting vega-lite has no field for).
  const legend = {
    ...vg.config?.legend,
    layout: { bottom: { anchor: "start", direction: "vertical" } },
  };
  vg.config = { ...vg.config, legend: legend as NonNullable<typeof vg.config>["legend"] };
  const view = new View(parse(vg), { renderer: "none", logger: log });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The SVG as PNG at `scale`× its size (2 for sharp text on high-density screens and slides). */
export function renderPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
  });
  return r.render().asPng();
}

/**
 * The SVG for inlining into an HTML page next to other charts: ids (vega's clip paths and
 * gradients are numbered per render, so two charts would share `clip1`) get the chart's prefix,
 * and the XML declaration-free root keeps its viewBox so CSS can scale it.
 */
export function inlineSvg(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${prefix}-${id}"`);
}
