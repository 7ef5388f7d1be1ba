// Process-wide settings: threads, seeds and generators, devices, build facts.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/api/include/torch/version.h>

#include <malloc.h>

namespace divco {

namespace {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread, got " + std::to_string(n));
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  Guarded(info.Env(), "manualSeed", [&] {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  });
  if (at::detail::getCUDAHooks().hasCUDA()) {
    for (int i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); ++i) {
      auto gen = at::detail::getCUDAHooks().getDefaultCUDAGenerator(i);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return info.Env().Undefined();
}

// newGenerator(seed, device?) -> an independent generator to pass to random operators.
Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  std::string device = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
  return Guarded(info.Env(), "newGenerator", [&]() -> Napi::Value {
    c10::Device dev(device);
    at::Generator gen;
    if (dev.is_cpu()) {
      gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    } else {
      // A CUDA generator is cloned from the device default so that this build needs no CUDA headers.
      gen = at::detail::getCUDAHooks().getDefaultCUDAGenerator(dev.index() < 0 ? 0 : dev.index()).clone();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    return WrapGenerator(info.Env(), gen);
  });
}

GeneratorBox* GeneratorArg(const Napi::CallbackInfo& info, const char* what) {
  GeneratorBox* box = AsGeneratorBox(info.Env(), info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a generator");
  return box;
}

// The generator's full state as a u8 tensor, for checkpoints that resume bit-exactly.
Napi::Value GeneratorState(const Napi::CallbackInfo& info) {
  GeneratorBox* box = GeneratorArg(info, "generatorState");
  return Guarded(info.Env(), "generatorState", [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(box->g.mutex());
    return WrapTensor(info.Env(), box->g.get_state());
  });
}

Napi::Value SetGeneratorState(const Napi::CallbackInfo& info) {
  GeneratorBox* box = GeneratorArg(info, "setGeneratorState");
  const at::Tensor& state = UnwrapTensor(info.Env(), info[1], "setGeneratorState");
  Guarded(info.Env(), "setGeneratorState", [&] {
    std::lock_guard<std::mutex> lock(box->g.mutex());
    box->g.set_state(state);
  });
  return info.Env().Undefined();
}

Napi::Value DefaultGenerator(const Napi::CallbackInfo& info) {
  return WrapGenerator(info.Env(), at::detail::getDefaultCPUGenerator());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  auto& hooks = at::detail::getCUDAHooks();
  return Napi::Number::New(info.Env(), hooks.hasCUDA() ? hooks.getNumGPUs() : 0);
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", TORCH_VERSION);
  out.Set("cxx11Abi", Napi::Boolean::New(env, _GLIBCXX_USE_CXX11_ABI == 1));
#ifdef DIVCO_WITH_CUDA
  out.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
  out.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
  out.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("config", at::show_config());
  return out;
}

// Heap statistics, for memory tests: bytes in use and bytes held by malloc.
Napi::Value HeapStats(const Napi::CallbackInfo& info) {
  struct mallinfo2 m = mallinfo2();
  auto out = Napi::Object::New(info.Env());
  out.Set("inUse", Napi::Number::New(info.Env(), static_cast<double>(m.uordblks + m.hblkhd)));
  out.Set("held", Napi::Number::New(info.Env(), static_cast<double>(m.arena + m.hblkhd)));
  return out;
}

}  // namespace

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("newGenerator", Napi::Function::New(env, NewGenerator, "newGenerator"));
  exports.Set("defaultGenerator", Napi::Function::New(env, DefaultGenerator, "defaultGenerator"));
  exports.Set("generatorState", Napi::Function::New(env, GeneratorState, "generatorState"));
  exports.Set("setGeneratorState", Napi::Function::New(env, SetGeneratorState, "setGeneratorState"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("heapStats", Napi::Function::New(env, HeapStats, "heapStats"));
}

}  // namespace divco
