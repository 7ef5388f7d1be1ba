// `divco data get`: download from a local HTTP server, MD5 verification, atomic extraction, offline use.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import * as tar from "tar";
import { tempDir } from "./helpers.js";
import { getCifar, fileMd5 } from "../../src/data/download.js";
import { CIFAR10, loadCifar, type CifarSpec } from "../../src/data/cifar.js";
import { DataError } from "../../src/data/errors.js";

/** A CIFAR-10-shaped spec with 2-record files so the archive stays tiny. */
async function fakeArchive(): Promise<{ spec: CifarSpec; archive: string }> {
  const src = tempDir("tarsrc");
  const folder = path.join(src, CIFAR10.folder);
  fs.mkdirSync(folder);
  const rec = Buffer.alloc(2 * 3073, 9);
  rec[0] = 4;
  rec[3073] = 7;
  fs.writeFileSync(path.join(folder, "data_batch_1.bin"), rec);
  fs.writeFileSync(path.join(folder, "test_batch.bin"), rec);
  const archive = path.join(src, "cifar-10-binary.tar.gz");
  await tar.c({ gzip: true, file: archive, cwd: src }, [CIFAR10.folder]);
  const spec: CifarSpec = {
    ...CIFAR10,
    md5: await fileMd5(archive),
    files: {
      train: [{ file: "data_batch_1.bin", records: 2 }],
      test: [{ file: "test_batch.bin", records: 2 }],
    },
  };
  return { spec, archive };
}

async function serve(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = fs.readFileSync(file);
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(".divco-"));

test("get: downloads, verifies MD5, extracts atomically; a second get finds it present", async () => {
  const { spec, archive } = await fakeArchive();
  const srv = await serve(archive);
  try {
    const root = tempDir("get");
    const r = await getCifar({ ...spec, url: srv.url }, { dir: root });
    assert.equal(r.status, "downloaded");
    assert.equal(r.dir, path.join(root, CIFAR10.folder));
    const ds = loadCifar(spec, { split: "train", dir: root });
    assert.deepEqual([...ds.labels], [4, 7]);
    assert.deepEqual(leftovers(root), []);
    assert.equal((await getCifar({ ...spec, url: srv.url }, { dir: root })).status, "present");
  } finally {
    await srv.close();
  }
});

test("get: wrong checksum installs nothing and says which digest was expected", async () => {
  const { spec, archive } = await fakeArchive();
  const srv = await serve(archive);
  try {
    const root = tempDir("md5");
    await assert.rejects(
      getCifar({ ...spec, url: srv.url, md5: "0".repeat(32) }, { dir: root }),
      (e: unknown) =>
        e instanceof DataError &&
        e.code === "checksum" &&
        e.message.includes("0".repeat(32)) &&
        e.message.includes(spec.md5),
    );
    assert.equal(fs.existsSync(path.join(root, CIFAR10.folder)), false);
    assert.deepEqual(leftovers(root), []);
  } finally {
    await srv.close();
  }
});

test("get offline fails fast naming the URL and the directory; --archive works without network", async () => {
  const { spec, archive } = await fakeArchive();
  const root = tempDir("offline");
  const url = "http://127.0.0.1:9/cifar-10-binary.tar.gz"; // discard port: connection refused
  const t0 = Date.now();
  await assert.rejects(
    getCifar({ ...spec, url }, { dir: root, timeoutSeconds: 5 }),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "network" &&
      e.message.includes(url) &&
      e.message.includes(root),
  );
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(leftovers(root), []);
  const r = await getCifar({ ...spec, url }, { dir: root, archive });
  assert.equal(r.status, "extracted");
});
