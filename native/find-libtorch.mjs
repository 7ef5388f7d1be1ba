#!/usr/bin/env node
// Locates the libtorch that the addon builds against, in the order DESIGN.md §2 gives:
//   1. $LIBTORCH — a prefix holding include/ and lib/ (an unpacked libtorch zip, a conda env, ...)
//   2. a Python PyTorch install that ships its headers (pip wheels do; Debian's python3-torch doesn't)
//   3. the system: Debian/Ubuntu `libtorch-dev` (headers in /usr/include, libraries in the multiarch dir)
// Also decides which c10d backends native/src/dist.cc compiles: Gloo where its headers are beside
// libtorch's (Debian: libgloo-dev; wheels ship them), NCCL in CUDA builds that find nccl.h.
// Prints one field for node-gyp: `include` | `libdir` | `cflags` | `libs` | `describe`.
import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";

function fromPrefix(prefix, how) {
  const include = join(prefix, "include");
  const lib = join(prefix, "lib");
  if (!existsSync(join(include, "ATen", "ATen.h"))) return null;
  if (!existsSync(join(lib, "libtorch_cpu.so")) && !existsSync(join(lib, "libtorch.so"))) return null;
  return { include, lib, how, cmake: join(prefix, "share", "cmake", "Torch", "TorchConfig.cmake") };
}

function fromPython() {
  for (const py of [process.env.PYTHON, "python3", "/usr/bin/python3"].filter(Boolean)) {
    try {
      const dir = execFileSync(py, ["-c", "import torch,sys; sys.stdout.write(torch.__path__[0])"], {
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 60000,
      }).toString();
      const found = fromPrefix(dir, `python (${py})`);
      if (found) {
        found.python = py;
        return found;
      }
    } catch {
      // no torch in this interpreter: try the next one
    }
  }
  return null;
}

function fromSystem() {
  const libs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];
  for (const lib of libs) {
    if (existsSync(join(lib, "libtorch_cpu.so")) && existsSync("/usr/include/ATen/ATen.h")) {
      return { include: "/usr/include", lib, how: "system", cmake: join(lib, "cmake", "Torch", "TorchConfig.cmake") };
    }
  }
  return null;
}

function locate() {
  if (process.env.LIBTORCH) {
    const found = fromPrefix(process.env.LIBTORCH, "LIBTORCH");
    if (!found) {
      throw new Error(`LIBTORCH=${process.env.LIBTORCH} has no include/ATen/ATen.h and lib/libtorch_cpu.so; unset it or point it at a libtorch prefix`);
    }
    return found;
  }
  const found = fromPython() ?? fromSystem();
  if (!found) {
    throw new Error("libtorch not found: install Debian's libtorch-dev (apt-get install libtorch-dev), a PyTorch wheel, or set LIBTORCH to a libtorch prefix");
  }
  return found;
}

// The C++11 ABI flag must equal the one libtorch was built with, or std::string-taking symbols fail to link.
function cxx11Abi(t) {
  if (existsSync(t.cmake)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(readFileSync(t.cmake, "utf8"));
    if (m) return m[1];
  }
  if (t.python) {
    try {
      return execFileSync(t.python, ["-c", "import torch,sys; sys.stdout.write(str(int(torch.compiled_with_cxx11_abi())))"]).toString();
    } catch {
      // fall through to the default
    }
  }
  return "1";
}

const t = locate();
const has = (name) => existsSync(join(t.lib, name));
const libs = ["-ltorch_cpu", "-lc10"];
if (has("libtorch.so")) libs.unshift("-ltorch");
const cuda = has("libtorch_cuda.so");
// --no-as-needed keeps torch_cuda linked although no symbol of it is referenced: its static
// initialisers register the CUDA kernels with the dispatcher.
if (cuda) libs.push("-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed");
libs.push(`-Wl,-rpath,${t.lib}`, `-L${t.lib}`);

// Gloo: ProcessGroupGloo.hpp compiles only with USE_C10D_GLOO and the gloo headers of the same
// libtorch (Debian's libtorch exports the symbols; the headers are in libgloo-dev).
// Debian's python3-torch links its include/ entries into /usr/include: look beside the real ones.
const realInclude = dirname(realpathSync(join(t.include, "torch")));
const c10d = join(realInclude, "torch", "csrc", "distributed", "c10d");
const gloo =
  existsSync(join(c10d, "ProcessGroupGloo.hpp")) && existsSync(join(realInclude, "gloo", "config.h"));
// NCCL: a CUDA libtorch with ProcessGroupNCCL.hpp, plus nccl.h and the CUDA runtime headers.
function findHeader(name) {
  const roots = [process.env.CUDA_HOME, process.env.CUDA_PATH, "/usr/local/cuda", "/usr"]
    .filter(Boolean)
    .map((r) => join(r, "include"));
  const nvidia = join(t.lib, "..", "..", "nvidia");
  if (existsSync(nvidia)) for (const d of readdirSync(nvidia)) roots.push(join(nvidia, d, "include"));
  return roots.find((r) => existsSync(join(r, name)));
}
const ncclInclude = cuda && existsSync(join(c10d, "ProcessGroupNCCL.hpp")) ? findHeader("nccl.h") : undefined;
const cudaInclude = ncclInclude ? findHeader("cuda_runtime_api.h") : undefined;
const nccl = Boolean(gloo && ncclInclude && cudaInclude);
const distFlags = [
  gloo ? "-DUSE_C10D_GLOO -DDIVCO_WITH_GLOO=1" : "",
  nccl ? "-DUSE_C10D_NCCL -DDIVCO_WITH_NCCL=1" : "",
];

const field = process.argv[2];
const includes = [
  t.include,
  join(t.include, "torch", "csrc", "api", "include"),
  ...(gloo && realInclude !== "/usr/include" ? [realInclude] : []),
  ...(nccl ? [ncclInclude, cudaInclude] : []),
].filter((d, i, all) => existsSync(d) && all.indexOf(d) === i);
const out = {
  include: includes.join(" "),
  libdir: t.lib,
  cflags: [`-D_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(t)}`, cuda ? "-DDIVCO_WITH_CUDA=1" : "", ...distFlags]
    .filter(Boolean)
    .join(" "),
  libs: libs.join(" "),
  describe: JSON.stringify({ ...t, cuda, gloo, nccl, files: readdirSync(t.lib).filter((f) => f.startsWith("libtorch")).length }),
}[field];
if (out === undefined) {
  console.error("usage: find-libtorch.mjs include|libdir|cflags|libs|describe");
  process.exit(2);
}
process.stdout.write(out);
