// Opening a report in a real browser: headless Chromium (Debian's `chromium` package), driven by
// playwright-core, which downloads no browser of its own. Used by `divco report --screenshot`
// and by the report's browser test. playwright-core is a development dependency, loaded only
// when asked for, so the report itself needs neither it nor a browser.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Where Chromium is looked for when the CHROMIUM environment variable is not set. */
export const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The Chromium executable: $CHROMIUM if set, else Debian's; null when there is none. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  return CHROMIUM_PATHS.find((p) => existsSync(p)) ?? null;
}

// The part of playwright-core's API used here, declared locally so that divco's own type
// declarations do not depend on a development dependency.
export interface BrowserPage {
  goto(url: string, o?: { waitUntil?: "load" }): Promise<unknown>;
  on(event: "console", f: (m: { type(): string; text(): string }) => void): void;
  on(event: "pageerror", f: (e: Error) => void): void;
  on(event: "requestfailed", f: (r: { url(): string }) => void): void;
  on(event: "request", f: (r: { url(): string }) => void): void;
  evaluate<T>(expression: string): Promise<T>;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
}
export interface Browser {
  newPage(o?: { viewport?: { width: number; height: number } }): Promise<BrowserPage>;
  close(): Promise<void>;
}

/** Launches headless Chromium; throws naming what to install when it or playwright-core is missing. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath)
    throw new Error(
      process.env.CHROMIUM
        ? `CHROMIUM=${process.env.CHROMIUM} does not exist`
        : `no Chromium found (looked for ${CHROMIUM_PATHS.join(", ")}); install it with apt-get install chromium, or set CHROMIUM to its path`,
    );
  let pw: { chromium: { launch(o: object): Promise<Browser> } };
  try {
    pw = (await import("playwright-core")) as unknown as typeof pw;
  } catch {
    throw new Error(
      "playwright-core is not installed (npm install --save-dev playwright-core; it downloads no browser)",
    );
  }
  // --no-sandbox: Chromium refuses to start as root with its sandbox (CI containers run as root).
  return pw.chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
}

/** The file:// URL of a local HTML file. */
export function fileUrl(path: string): string {
  return pathToFileURL(resolve(path)).href;
}

/** A full-page PNG screenshot of a local HTML file at the given viewport width. */
export async function screenshotPage(html: string, png: string, width = 1200): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(fileUrl(html), { waitUntil: "load" });
    await page.screenshot({ path: png, fullPage: true });
  } finally {
    await browser.close();
  }
}
