// `divco data get|check|info`: fetch, validate and describe datasets.
// Exit codes: 0 ok, 1 data problem (missing / corrupt / checksum / network),
// 2 usage error (unknown subcommand, flag, dataset).
import * as fs from "node:fs";
import * as path from "node:path";
import { defineCommand, runCommand, stdio, UsageError, type Out } from "./args.js";
import { CIFAR10, CIFAR100, checkCifar, type CifarSpec } from "../data/cifar.js";
import { getCifar } from "../data/download.js";
import { DataError } from "../data/errors.js";
import { defaultDataRoot, candidateDirs } from "../data/paths.js";
import { cifar10SampleDir, loadCifar10Sample } from "../data/sample.js";
import { SVHN_FILES, SVHN_FOLDER, SVHN_SPLITS, SVHN_URL } from "../data/svhn.js";
import { ImageFolderDataset } from "../data/imagefolder.js";
import { badImagesByKind, checkImages, type ImageCheck } from "../data/image_check.js";
import { Progress } from "../report/progress.js";

export const DATA = defineCommand({
  name: "data",
  summary: "get, check and describe datasets",
  usage: [
    "get <cifar10|cifar100> [--dir D] [--archive FILE]",
    "check <cifar10|cifar100|svhn|imagenet> [--dir D]",
    "info [--dir D]",
  ],
  description: `get    Download the official binary archive, verify its published MD5 and extract it
       into D (default: $DIVCO_DATA or ~/.cache/divco/data). --archive FILE uses an
       already downloaded .tar.gz instead (offline).
check  Validate local files: sizes, label ranges, class counts; imagenet: the D/train and
       D/val class folders, decoding every image as training does (a progress bar on
       stderr, then the bad files by kind). Works offline.
info   Known datasets, where they are looked for, whether they are present, and the
       embedded CIFAR-10 sample.`,
  positionals: [
    {
      name: "COMMAND",
      noun: "subcommand",
      required: true,
      choices: ["get", "check", "info"],
      description: "what to do",
    },
    { name: "DATASET", description: "the dataset (get, check)" },
  ],
  flags: {
    dir: {
      type: "string",
      value: "D",
      defaultText: "$DIVCO_DATA",
      description: "dataset directory or data root (without $DIVCO_DATA: ~/.cache/divco/data)",
    },
    archive: {
      type: "string",
      value: "FILE",
      description: "get: extract this already downloaded .tar.gz instead of downloading",
    },
  },
  notes: "Exit codes: 0 ok, 1 data problem (missing, corrupt, checksum, network), 2 usage error.",
});

const CIFAR: Record<string, CifarSpec> = { cifar10: CIFAR10, cifar100: CIFAR100 };

export async function runData(argv: string[], out: Out = stdio): Promise<number> {
  // `divco data help` is --help, as in the usage text of older versions.
  return runCommand(
    DATA,
    argv[0] === "help" ? ["--help"] : argv,
    out,
    async ({ values, positionals }) => {
      const [sub, name] = positionals;
      if (values.archive !== undefined && sub !== "get")
        throw new UsageError(`--archive only applies to "get"`);
      return data(sub, name, values.dir, values.archive, out);
    },
  );
}

async function data(
  sub: string,
  name: string | undefined,
  dir: string | undefined,
  archive: string | undefined,
  out: Out,
): Promise<number> {
  try {
    switch (sub) {
      case "get": {
        const spec = name ? CIFAR[name] : undefined;
        if (!spec)
          throw new UsageError(
            name
              ? `cannot download "${name}" (downloadable: cifar10, cifar100; SVHN from ${SVHN_URL}, ImageNet by hand)`
              : "get needs a dataset name",
          );
        const r = await getCifar(spec, { dir, archive, log: out.log });
        out.log(
          r.status === "present"
            ? `${spec.title} already present in ${r.dir}`
            : `${spec.title} ready in ${r.dir}`,
        );
        return 0;
      }
      case "check":
        if (!name) throw new UsageError("check needs a dataset name");
        return await check(name, dir, out);
      default: // info (the parser admits only get, check, info)
        if (name) throw new UsageError(`unexpected argument: ${name}`);
        info(dir, out);
        return 0;
    }
  } catch (e) {
    if (e instanceof DataError) {
      out.err(`divco data ${sub}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function check(name: string, dir: string | undefined, out: Out): Promise<number> {
  const spec = CIFAR[name];
  if (spec) {
    const r = checkCifar(spec, dir);
    if (!r.dir || r.files.every((f) => f.bytes === null)) {
      out.err(
        `${spec.title}: not found; looked in ${candidateDirs(spec.folder, dir).join(" and ")}. Get it with \`divco data get ${name}${dir ? ` --dir ${dir}` : ""}\`.`,
      );
      return 1;
    }
    out.log(`${spec.title} in ${r.dir}`);
    for (const f of r.files) {
      const counts = f.classCounts
        ? ` (${f.classCounts.reduce((a, b) => a + b, 0)} images, ${f.classCounts.filter((c) => c > 0).length} classes)`
        : "";
      out.log(
        `  ${f.ok ? "ok  " : "BAD "} ${path.basename(f.file)}: ${f.ok ? `${f.bytes} bytes${counts}` : f.problem}`,
      );
    }
    return r.files.every((f) => f.ok) ? 0 : 1;
  }
  if (name === "svhn") {
    const dirs = candidateDirs(SVHN_FOLDER, dir);
    let ok = true;
    for (const split of SVHN_SPLITS) {
      const file = SVHN_FILES[split].file;
      const found = dirs.map((d) => path.join(d, file)).find((p) => fs.existsSync(p));
      out.log(
        `  ${found ? "ok  " : "MISSING"} ${file}${found ? `: ${fs.statSync(found).size} bytes` : ` (download ${SVHN_URL}${file})`}`,
      );
      ok &&= !!found;
    }
    out.log(`SVHN looked in ${dirs.join(" and ")}`);
    return ok ? 0 : 1;
  }
  if (name === "imagenet") {
    const root = dir ?? path.join(defaultDataRoot(), "imagenet");
    let ok = true;
    for (const split of ["train", "val"]) {
      let ds: ImageFolderDataset;
      try {
        ds = ImageFolderDataset.open(root, split);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        out.log(`  BAD  ${split}: ${e.message}`);
        ok = false;
        continue;
      }
      const r = await decodeAll(ds, out);
      const counts = `${ds.size} images in ${ds.numClasses} classes`;
      if (r.bad.length === 0) {
        out.log(`  ok   ${split}: ${counts}, every image decodes`);
        continue;
      }
      ok = false;
      out.log(`  BAD  ${split}: ${counts}; ${r.bad.length} cannot be decoded:`);
      for (const [kind, list] of badImagesByKind(r.bad)) {
        out.log(`       ${kind} (${list.length}):`);
        for (const b of list) out.log(`         ${b.file}${b.reason ? `: ${b.reason}` : ""}`);
      }
    }
    if (!ok)
      out.log(
        "Training refuses bad files in val/ before its first step; in train/ it stops at one unless run with --on-bad-image skip.",
      );
    return ok ? 0 : 1;
  }
  throw new UsageError(`unknown dataset "${name}" (cifar10, cifar100, svhn, imagenet)`);
}

/** Decodes every image of the split; a progress bar on stderr when this is the real terminal. */
async function decodeAll(ds: ImageFolderDataset, out: Out): Promise<ImageCheck> {
  const progress =
    out === stdio
      ? new Progress({ total: ds.size, label: `decoding ${ds.name}`, stream: process.stderr })
      : null;
  const r = await checkImages(ds.files, { onProgress: (done) => progress?.update(done) });
  progress?.done();
  return r;
}

function info(dir: string | undefined, out: Out): void {
  out.log(
    `data root: ${dir ? path.resolve(dir) : defaultDataRoot()}${dir ? "" : " ($DIVCO_DATA or ~/.cache/divco/data)"}`,
  );
  for (const spec of [CIFAR10, CIFAR100]) {
    const r = checkCifar(spec, dir);
    const ok = r.dir !== null && r.files.every((f) => f.ok);
    out.log(
      `  ${spec.name.padEnd(9)} ${ok ? "present" : "absent "}  ${r.dir ?? candidateDirs(spec.folder, dir).join(" | ")}  (${spec.url}, md5 ${spec.md5})`,
    );
  }
  const svhnDirs = candidateDirs(SVHN_FOLDER, dir);
  const svhnPresent = SVHN_SPLITS.filter((s) =>
    svhnDirs.some((d) => fs.existsSync(path.join(d, SVHN_FILES[s].file))),
  );
  out.log(
    `  svhn      ${svhnPresent.length ? `present: ${svhnPresent.join(", ")}` : "absent "}  ${svhnDirs.join(" | ")}  (${SVHN_URL})`,
  );
  out.log(
    `  imagenet  folder layout <root>/train/<class>/*.JPEG and <root>/val/<class>/*; pass --dir to commands that use it`,
  );
  try {
    const s = cifar10SampleDir();
    out.log(
      `  cifar10-sample (embedded) ${loadCifar10Sample("train").size} train + ${loadCifar10Sample("test").size} test images in ${s}`,
    );
  } catch (e) {
    out.log(`  cifar10-sample (embedded) unavailable: ${(e as Error).message}`);
  }
}
