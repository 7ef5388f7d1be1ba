// `divco serve`'s server end to end over real HTTP on loopback, with the committed ResNet-29
// fixture (S=2, width 4, CIFAR-10): health and metadata; KServe v2 inference whose outputs are
// the ensemble's own (flat and nested data); /v1/predict with PNG and JPEG bodies and multipart
// files, members on request, the same classes as `divco predict`; a lone request run at once and
// the requests sent meanwhile batched;
// every bad input answered 4xx naming what is wrong while good requests beside it are answered
// exactly as alone; overload answered 503 + Retry-After; the per-request timeout 504; body
// limits 413; Prometheus metrics; close() with requests in flight answers them first.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tensor } from "../../src/tensor/creation.js";
import type { Ensemble } from "../../src/infer/predictor.js";
import type { ServedModel } from "../../src/serve/model.js";
import { CIFAR10_CLASSES } from "../../src/data/cifar.js";
import {
  call,
  form,
  image,
  loadFixture,
  metric,
  postImage,
  postJson,
  withServer,
  type Reply,
} from "./helpers.js";

const model = await loadFixture();
after(() => model.close());

const NAME = "resnet29_s2";
const SAMPLE = 3 * 32 * 32;

/** n deterministic normalised-looking images (values in [-2, 2]). */
function inputs(n: number, seed = 1): Float32Array {
  const x = new Float32Array(n * SAMPLE);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}

/** The ensemble's own outputs for x, straight from predict(). */
async function reference(x: Float32Array, n: number) {
  const t = tensor(x, { shape: [n, 3, 32, 32] });
  try {
    using p = await model.predict(t);
    return {
      probabilities: p.probabilities.toArray(),
      ensemble: p.scores.toArray(),
      member_0: p.members[0].toArray(),
      member_1: p.members[1].toArray(),
    } as Record<string, number[]>;
  } finally {
    t.dispose();
  }
}

const inferBody = (x: Float32Array, n: number, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: "input", shape: [n, 3, 32, 32], datatype: "FP32", data: Array.from(x) }],
  ...extra,
});

/** Outputs agree with the reference (batch composition may move the last float bits). */
function assertOutputs(r: Reply, want: Record<string, number[]>, n: number) {
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const outputs = r.body.outputs as {
    name: string;
    shape: number[];
    datatype: string;
    data: number[];
  }[];
  for (const o of outputs) {
    assert.deepEqual([o.shape, o.datatype], [[n, 10], "FP32"]);
    const w = want[o.name];
    assert.ok(w, `unexpected output ${o.name}`);
    o.data.forEach((v, i) =>
      assert.ok(Math.abs(v - w[i]) <= 1e-4 * (1 + Math.abs(w[i])), `${o.name}[${i}]`),
    );
  }
}

/** A model whose forward first waits `delay.ms` (to fill queues and pass deadlines). */
function slowed(m: Ensemble, delay: { ms: number }): ServedModel {
  return {
    arch: m.arch,
    split: m.split,
    dataset: m.dataset,
    crop: m.crop,
    numClasses: m.numClasses,
    mode: m.mode,
    rule: m.rule,
    classNames: m.classNames,
    predict: async (x) => {
      await sleep(delay.ms);
      return m.predict(x);
    },
  };
}

/**
 * A model whose forward passes wait at a gate until open() (the event loop stays free, so
 * requests pile up behind the first batch exactly as the test arranges); `entered` counts them.
 */
function gated(m: Ensemble) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const g = {
    entered: 0,
    open,
    model: {
      ...slowed(m, { ms: 0 }),
      predict: async (x) => {
        g.entered++;
        await gate;
        return m.predict(x);
      },
    } as ServedModel,
  };
  return g;
}

/** Waits until `cond` holds (the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

test(
  "health, server and model metadata (Open Inference Protocol shapes)",
  { timeout: 30_000 },
  async () => {
    await withServer(model, {}, async (url) => {
      assert.deepEqual((await call(`${url}/v2/health/live`)).body, { live: true });
      const ready = await call(`${url}/v2/health/ready`);
      assert.deepEqual([ready.status, ready.body], [200, { ready: true }]);
      assert.deepEqual((await call(`${url}/v2/models/${NAME}/ready`)).body, {
        name: NAME,
        ready: true,
      });
      assert.equal((await call(`${url}/v2`)).body.name, "divco");
      const meta = await call(`${url}/v2/models/${NAME}`);
      assert.equal(meta.status, 200);
      assert.deepEqual(meta.body.inputs, [
        { name: "input", datatype: "FP32", shape: [-1, 3, 32, 32] },
      ]);
      assert.deepEqual(
        (meta.body.outputs as { name: string }[]).map((o) => o.name),
        ["probabilities", "ensemble", "member_0", "member_1"],
      );
      assert.deepEqual(meta.body.parameters, {
        arch: "resnet29",
        split: 2,
        dataset: "cifar10",
        ensemble_rule: "mean_logits",
        mode: "sequential",
        num_classes: 10,
      });
    });
  },
);

test(
  "KServe v2 infer: the ensemble's and members' outputs, flat or nested data, id echoed, outputs chosen",
  { timeout: 60_000 },
  async () => {
    await withServer(model, { maxWaitMs: 0 }, async (url) => {
      const x = inputs(3);
      const want = await reference(x, 3);
      const r = await postJson(`${url}/v2/models/${NAME}/infer`, inferBody(x, 3, { id: "req-7" }));
      assertOutputs(r, want, 3);
      assert.equal(r.body.model_name, NAME);
      assert.equal(r.body.id, "req-7");
      // Nested [N][3][H][W] data, and only the outputs asked for, in the order asked.
      const nested = Array.from({ length: 3 }, (_, n) =>
        Array.from({ length: 3 }, (_, c) =>
          Array.from({ length: 32 }, (_, h) =>
            Array.from(
              x.subarray(n * SAMPLE + c * 1024 + h * 32, n * SAMPLE + c * 1024 + h * 32 + 32),
            ),
          ),
        ),
      );
      const body = inferBody(x, 3, { outputs: [{ name: "member_1" }, { name: "probabilities" }] });
      body.inputs[0].data = nested as unknown as number[];
      const r2 = await postJson(`${url}/v2/models/${NAME}/infer`, body);
      assertOutputs(r2, want, 3);
      assert.deepEqual(
        (r2.body.outputs as { name: string }[]).map((o) => o.name),
        ["member_1", "probabilities"],
      );
      assert.equal(r2.body.id, undefined);
    });
  },
);

test(
  "/v1/predict: PNG and JPEG bodies and multipart files, classes as divco predict gives them",
  { timeout: 60_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "divco-serve-"));
    try {
      const png = await image("png", 1);
      const jpeg = await image("jpeg", 2);
      fs.writeFileSync(path.join(dir, "a.png"), png);
      fs.writeFileSync(path.join(dir, "b.jpeg"), jpeg);
      const files = await model.predictFiles([path.join(dir, "a.png"), path.join(dir, "b.jpeg")], {
        topk: 3,
      });
      const [wantPng, wantJpeg] = files.predictions.map((p) => p.top);
      await withServer(model, { maxWaitMs: 0 }, async (url) => {
        const near = (got: unknown, want: typeof wantPng) => {
          const g = got as typeof wantPng;
          assert.deepEqual(
            g.map((t) => [t.index, t.name]),
            want.map((t) => [t.index, t.name]),
          );
          g.forEach((t, i) => assert.ok(Math.abs(t.probability - want[i].probability) < 1e-5));
        };
        const a = await postImage(`${url}/v1/predict?top=3`, png);
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.equal(a.body.model, NAME);
        const [pa] = a.body.predictions as { top: unknown; members?: unknown; image?: string }[];
        near(pa.top, wantPng);
        assert.equal(pa.members, undefined);
        assert.equal(pa.image, undefined);

        const b = await postImage(`${url}/v1/predict?top=3&members=true`, jpeg, "image/jpeg");
        const [pb] = b.body.predictions as {
          top: unknown;
          members: { index: number; name: string; probability: number }[][];
        }[];
        near(pb.top, wantJpeg);
        assert.equal(pb.members.length, 2);
        for (const m of pb.members) {
          assert.equal(m.length, 3);
          assert.equal(m[0].name, CIFAR10_CLASSES[m[0].index]);
          assert.ok(m[0].probability >= m[1].probability && m[1].probability >= m[2].probability);
        }

        const mp = await call(`${url}/v1/predict?top=3`, {
          method: "POST",
          body: form({ "a.png": png, "b.jpeg": jpeg }),
        });
        assert.equal(mp.status, 200, JSON.stringify(mp.body));
        const preds = mp.body.predictions as { image: string; top: unknown }[];
        assert.deepEqual(
          preds.map((p) => p.image),
          ["a.png", "b.jpeg"],
        );
        near(preds[0].top, wantPng);
        near(preds[1].top, wantJpeg);
        assert.equal(
          (await postImage(`${url}/v1/predict`, png)).body.predictions instanceof Array,
          true,
        );
        assert.equal(
          ((await postImage(`${url}/v1/predict`, png)).body.predictions as { top: unknown[] }[])[0]
            .top.length,
          5,
        );
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "concurrent requests are batched, each answered with its own rows",
  { timeout: 60_000 },
  async () => {
    const g = gated(model);
    await withServer(g.model, { maxBatch: 4, maxWaitMs: 60_000 }, async (url, server) => {
      const xs = [0, 1, 2, 3, 4].map((i) => inputs(1, 10 + i));
      const wants = await Promise.all(xs.map((x) => reference(x, 1)));
      const post = (x: Float32Array) => postJson(`${url}/v2/models/${NAME}/infer`, inferBody(x, 1));
      // A lone request runs at once (nothing else on its way), not after max-wait-ms...
      const first = post(xs[0]);
      await until(() => g.entered === 1);
      // ...and the four sent while it runs wait, then run together as one batch.
      const rest = xs.slice(1).map(post);
      await until(() => server.batcher.depth === 4);
      g.open();
      const replies = await Promise.all([first, ...rest]);
      replies.forEach((r, i) => assertOutputs(r, wants[i], 1));
      const text = await server.metrics.registry.metrics();
      assert.equal(metric(text, "divco_serve_batch_size_count"), 2);
      assert.equal(metric(text, "divco_serve_batch_size_sum"), 5);
      assert.equal(metric(text, 'divco_serve_batch_size_bucket{le="4"}'), 2);
    });
  },
);

test(
  "every bad input is answered 4xx naming what is wrong; good requests beside it are unaffected",
  { timeout: 90_000 },
  async () => {
    const png = await image("png", 3);
    const jpeg = await image("jpeg", 4);
    const big = await image("png", 5, 64, 64);
    const x = inputs(1, 99);
    const want = await reference(x, 1);
    const good = inferBody(x, 1);
    const v2 = (mut: (inp: Record<string, unknown>) => void) => {
      const b = inferBody(x, 1) as { inputs: Record<string, unknown>[] };
      mut(b.inputs[0]);
      return b;
    };
    const infer = `/v2/models/${NAME}/infer`;
    type Case = [string, string, RequestInit, number, RegExp];
    const json = (doc: unknown): RequestInit => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof doc === "string" ? doc : JSON.stringify(doc),
    });
    const img = (bytes: Buffer | string, type = "image/jpeg"): RequestInit => ({
      method: "POST",
      headers: { "content-type": type },
      body: bytes,
    });
    const cases: Case[] = [
      [
        "truncated JPEG",
        "/v1/predict",
        img(jpeg.subarray(0, 300)),
        400,
        /^request body: cannot decode image: truncated/,
      ],
      [
        "not an image",
        "/v1/predict",
        img("hello, not a picture"),
        400,
        /^request body: cannot decode image: not an image/,
      ],
      ["empty image body", "/v1/predict", img(Buffer.alloc(0), "image/png"), 400, /empty file/],
      [
        "64×64 image for a CIFAR model",
        "/v1/predict",
        img(big, "image/png"),
        400,
        /64×64 image; cifar10 models evaluate 32×32 images/,
      ],
      [
        "text body",
        "/v1/predict",
        { method: "POST", headers: { "content-type": "text/plain" }, body: "cat" },
        415,
        /Content-Type text\/plain is not taken/,
      ],
      ["no body", "/v1/predict", { method: "POST" }, 400, /^no image: send the image as the body/],
      [
        "a bad file among good ones",
        "/v1/predict",
        { method: "POST", body: form({ "ok.png": png, "bad.jpg": jpeg.subarray(0, 200) }) },
        400,
        /^file "bad\.jpg": cannot decode image: truncated/,
      ],
      [
        "multipart without a file",
        "/v1/predict",
        { method: "POST", body: form({}, { top: "3" }) },
        400,
        /multipart field "top" is not a file/,
      ],
      [
        "more files than max-batch",
        "/v1/predict",
        {
          method: "POST",
          body: form(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`${i}.png`, png]))),
        },
        413,
        /more than 4 images in one request/,
      ],
      [
        "top out of range",
        "/v1/predict?top=11",
        img(png, "image/png"),
        400,
        /top must be an integer from 1 to 10, got 11/,
      ],
      [
        "unknown query parameter",
        "/v1/predict?topk=3",
        img(png, "image/png"),
        400,
        /unknown query parameter topk/,
      ],
      ["malformed JSON", infer, json('{"inputs": ['), 400, /the body is not valid JSON/],
      ["missing inputs", infer, json({ id: "x" }), 400, /missing field "inputs"/],
      [
        "missing data",
        infer,
        json(v2((i) => delete i.data)),
        400,
        /missing field "inputs\[0\]\.data"/,
      ],
      [
        "missing datatype",
        infer,
        json(v2((i) => delete i.datatype)),
        400,
        /missing field "inputs\[0\]\.datatype"/,
      ],
      [
        "wrong dtype",
        infer,
        json(v2((i) => (i.datatype = "INT32"))),
        400,
        /wrong datatype "INT32" for "input": it takes FP32/,
      ],
      [
        "wrong shape",
        infer,
        json(v2((i) => (i.shape = [1, 3, 16, 16]))),
        400,
        /wrong shape \[1, 3, 16, 16\] for "input": expected \[N, 3, 32, 32\]/,
      ],
      [
        "more images than max-batch",
        infer,
        json(v2((i) => (i.shape = [5, 3, 32, 32]))),
        400,
        /wrong shape \[5, 3, 32, 32\].*--max-batch/,
      ],
      [
        "too few values",
        infer,
        json(v2((i) => (i.data = [1, 2, 3, 4, 5]))),
        400,
        /holds 5 values; shape \[1, 3, 32, 32\] needs 3072/,
      ],
      [
        "a string in the data",
        infer,
        json(v2((i) => ((i.data as unknown[])[7] = "x"))),
        400,
        /only numbers \(FP32\); found string at value 7/,
      ],
      [
        "unknown input name",
        infer,
        json(v2((i) => (i.name = "images"))),
        400,
        /unknown input "images"; this model's input is "input"/,
      ],
      [
        "unknown output",
        infer,
        json({ ...good, outputs: [{ name: "logits" }] }),
        400,
        /unknown output "logits"; this model has probabilities, ensemble, member_0, member_1/,
      ],
      [
        "an image sent to infer",
        infer,
        img(png, "image/png"),
        415,
        /Content-Type image\/png is not taken/,
      ],
      [
        "unknown model",
        `/v2/models/resnet110_s4/infer`,
        json(good),
        404,
        /unknown model "resnet110_s4"; this server serves "resnet29_s2"/,
      ],
      ["unknown model metadata", `/v2/models/nope`, { method: "GET" }, 404, /unknown model "nope"/],
      [
        "unknown route",
        `/v3/predict`,
        { method: "POST" },
        404,
        /no route POST \/v3\/predict; the endpoints are/,
      ],
    ];
    await withServer(model, { maxBatch: 4, maxWaitMs: 20 }, async (url) => {
      for (const [what, route, init, status, message] of cases) {
        // The bad request and a good one at the same time (so they may share a batch).
        const [bad, ok] = await Promise.all([call(url + route, init), postJson(url + infer, good)]);
        assert.equal(bad.status, status, `${what}: ${JSON.stringify(bad.body)}`);
        assert.match(String(bad.body.error), message, what);
        assert.deepEqual(Object.keys(bad.body), ["error"], what);
        assertOutputs(ok, want, 1);
      }
      // And after all of them, the server answers as before.
      assertOutputs(await postJson(url + infer, good), want, 1);
      assert.equal((await call(`${url}/v2/health/ready`)).status, 200);
    });
  },
);

test(
  "overload: 503 with Retry-After, no crash; the admitted requests are answered",
  { timeout: 60_000 },
  async () => {
    const png = await image("png", 6);
    // The forward waits at a gate, so exactly max-queue requests are in flight until it opens.
    const g = gated(model);
    await withServer(g.model, { maxBatch: 1, maxWaitMs: 0, maxQueue: 2 }, async (url, server) => {
      const replies = Array.from({ length: 8 }, () => postImage(`${url}/v1/predict`, png));
      const settled: Reply[] = [];
      for (const r of replies) void r.then((x) => settled.push(x));
      // Six answered at once; two admitted: one in the forward at the gate, one queued behind it.
      while (settled.length < 6 || server.batcher.depth < 1) await sleep(10);
      for (const r of settled) {
        assert.equal(r.status, 503);
        assert.match(
          String(r.body.error),
          /^overloaded: 2 inference requests in flight, the most --max-queue allows/,
        );
        assert.match(r.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
      }
      g.open();
      const statuses = (await Promise.all(replies)).map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 2, String(statuses));
      // Still serving, and the metrics counted both.
      assert.equal((await postImage(`${url}/v1/predict`, png)).status, 200);
      const text = await server.metrics.registry.metrics();
      assert.equal(
        metric(text, 'divco_serve_requests_total{method="POST",route="/v1/predict",status="503"}'),
        6,
      );
      assert.equal(
        metric(text, 'divco_serve_requests_total{method="POST",route="/v1/predict",status="200"}'),
        3,
      );
      assert.equal(metric(text, "divco_serve_requests_in_flight"), 0);
    });
  },
);

test(
  "the per-request timeout answers 504 and frees the request's place",
  { timeout: 60_000 },
  async () => {
    const png = await image("png", 7);
    const delay = { ms: 600 };
    await withServer(
      slowed(model, delay),
      { maxBatch: 1, maxWaitMs: 0, maxQueue: 1, timeoutMs: 150 },
      async (url) => {
        const r = await postImage(`${url}/v1/predict`, png);
        assert.equal(r.status, 504);
        assert.match(
          String(r.body.error),
          /no result within 150 ms \(the per-request timeout, --timeout-ms\)/,
        );
        delay.ms = 0;
        // max-queue 1: answered only if the timed-out request gave its place back.
        await sleep(700);
        assert.equal((await postImage(`${url}/v1/predict`, png)).status, 200);
      },
    );
  },
);

test(
  "bodies over the limit are refused with 413 (JSON, image, multipart)",
  { timeout: 60_000 },
  async () => {
    const png = await image("png", 8);
    await withServer(model, { bodyLimit: 600 }, async (url) => {
      const j = await postJson(`${url}/v2/models/${NAME}/infer`, inferBody(inputs(1), 1));
      assert.equal(j.status, 413);
      assert.match(String(j.body.error), /larger than the limit of 600 bytes \(--body-limit-mb\)/);
      assert.ok(png.length < 600);
      const big = Buffer.concat([png, Buffer.alloc(600)]);
      assert.equal((await postImage(`${url}/v1/predict`, big)).status, 413);
      const mp = await call(`${url}/v1/predict`, { method: "POST", body: form({ "a.png": big }) });
      assert.equal(mp.status, 413, JSON.stringify(mp.body));
      // A small enough image is still taken.
      assert.equal((await postImage(`${url}/v1/predict`, png)).status, 200);
    });
  },
);

test(
  "/metrics: requests by status, latency and batch-size histograms, queue depth",
  { timeout: 30_000 },
  async () => {
    const png = await image("png", 9);
    await withServer(model, { maxWaitMs: 0 }, async (url) => {
      await postImage(`${url}/v1/predict`, png);
      await postImage(`${url}/v1/predict`, Buffer.from("junk"));
      const r = await fetch(`${url}/metrics`);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      assert.equal(
        metric(text, 'divco_serve_requests_total{method="POST",route="/v1/predict",status="200"}'),
        1,
      );
      assert.equal(
        metric(text, 'divco_serve_requests_total{method="POST",route="/v1/predict",status="400"}'),
        1,
      );
      assert.equal(
        metric(
          text,
          'divco_serve_request_duration_seconds_count{method="POST",route="/v1/predict"}',
        ),
        2,
      );
      assert.equal(metric(text, "divco_serve_batch_size_count"), 1);
      assert.match(text, /^divco_serve_queue_depth 0$/m);
      assert.match(text, /^divco_serve_forward_duration_seconds_bucket/m);
      assert.match(text, /^divco_serve_process_resident_memory_bytes/m);
    });
  },
);

test(
  "close() with requests in flight (one running, one queued): both answered, then the listener closes",
  { timeout: 60_000 },
  async () => {
    const png = await image("png", 10);
    const g = gated(model);
    let url = "";
    const replies = await withServer(g.model, { maxBatch: 1, maxWaitMs: 0 }, async (u, server) => {
      url = u;
      const running = postImage(`${u}/v1/predict`, png);
      await until(() => g.entered === 1);
      const queued = postImage(`${u}/v1/predict`, png);
      await until(() => server.batcher.depth === 1);
      const closed = server.close();
      assert.equal(server.isReady, false);
      g.open();
      await closed;
      return Promise.all([running, queued]);
    });
    for (const r of replies) assert.equal(r.status, 200, JSON.stringify(r.body));
    await assert.rejects(fetch(`${url}/v2/health/live`));
  },
);
