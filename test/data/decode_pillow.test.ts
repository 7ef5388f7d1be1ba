// Decoding image files to RGB exactly as Pillow's Image.open(f).convert("RGB") does
// (src/data/decode.ts), against bytes Pillow wrote and decoded
// (scripts/fixtures/data/make_decode_fixtures.py). Issue #10 item 5: CMYK JPEGs went through an
// ICC transform and 16-bit grayscale PNGs were scaled where Pillow clamps; RGB files with an
// embedded profile were converted where Pillow keeps the stored values.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { repoPath, maxAbsDiff, tempDir } from "./helpers.js";
import { decodeRgb, openImage, sourceToRgb, transformRgb } from "../../src/data/decode.js";
import { ImageFolderDataset } from "../../src/data/imagefolder.js";
import { Rng } from "../../src/data/prng.js";

const dir = repoPath("test", "fixtures", "data", "decode");
const fixture = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as {
  files: Record<string, { mode: string; width: number; height: number; rgb: string }>;
};

test("every pixel layout decodes to Pillow's convert('RGB') bytes exactly", async () => {
  const names = Object.keys(fixture.files);
  assert.ok(names.length >= 13);
  for (const name of names) {
    const want = fixture.files[name];
    const got = await decodeRgb(path.join(dir, name));
    assert.deepEqual([got.width, got.height], [want.width, want.height], name);
    const { max, count } = maxAbsDiff(got.data, Buffer.from(want.rgb, "base64"));
    assert.equal(
      max,
      0,
      `${name} (Pillow mode ${want.mode}): ${count} values differ, by up to ${max}`,
    );
  }
});

test("the cases sharp alone decodes differently from Pillow are the ones decode.ts handles", async () => {
  // Guards the fixture: if these agreed, the test above would not show the fix.
  for (const name of [
    "cmyk_adobe.jpg",
    "cmyk_noadobe.jpg",
    "cmyk.tif",
    "gray16.png",
    "icc_linear.jpg",
  ]) {
    const plain = await sharp(path.join(dir, name))
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer();
    const { max } = maxAbsDiff(plain, Buffer.from(fixture.files[name].rgb, "base64"));
    assert.ok(max > 0, `${name}: sharp's default conversion already matches Pillow`);
  }
});

test("image folders crop CMYK and 16-bit gray files from the Pillow-exact pixels", async () => {
  const root = tempDir("decode");
  const cls = path.join(root, "val", "a");
  fs.mkdirSync(cls, { recursive: true });
  for (const name of ["cmyk_adobe.jpg", "gray16.png", "rgb.jpg"])
    fs.copyFileSync(path.join(dir, name), path.join(cls, name));
  const ds = ImageFolderDataset.open(root, "val");
  const crop = { kind: "resizeCenter", size: 6, resize: 7 } as const;
  for (let i = 0; i < ds.size; i++) {
    const name = path.basename(ds.files[i]);
    const want = fixture.files[name];
    const pillow = {
      width: want.width,
      height: want.height,
      data: new Uint8Array(Buffer.from(want.rgb, "base64")),
    };
    const full = await ds.getImage(i);
    assert.equal(maxAbsDiff(full.data, pillow.data).max, 0, name);
    // Resized from Pillow's pixels with the same geometry: shorter side 7, centre 6×6.
    const expected = await transformRgb(name, pillow, (s) =>
      s
        .resize(10, 7, { kernel: "cubic", fit: "fill" })
        .extract({ left: 2, top: 0, width: 6, height: 6 }),
    );
    const got = await ds.loadCropped(i, crop, Rng.fromKeys(0));
    assert.deepEqual([got.width, got.height], [6, 6]);
    if (name !== "rgb.jpg") assert.equal(maxAbsDiff(got.data, expected.data).max, 0, name);
    const src = await openImage(ds.files[i]);
    assert.equal(
      src.pixels,
      name === "rgb.jpg" ? "plain" : name.startsWith("cmyk") ? "cmyk" : "gray16",
    );
    assert.equal(maxAbsDiff((await sourceToRgb(src)).data, pillow.data).max, 0);
  }
});
