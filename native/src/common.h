// Shared declarations of the divco addon. The addon is a thin layer over libtorch: it owns
// tensor handles, converts JavaScript values to ATen arguments and back, and turns C++
// exceptions into JavaScript errors. It holds no model logic (DESIGN.md §2).
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <string>

namespace divco {

// Tensors are handed to JavaScript as numbers: handles into a process-wide slot table.
// A handle is (generation << 26 | slot); disposing bumps the slot's generation, so a stale
// handle is recognised as "disposed" even after its slot is reused. Numbers cost nothing to
// create (no napi object, no finaliser bookkeeping per tensor), and a handle can be passed
// to a worker thread as is. The JavaScript side registers a FinalizationRegistry entry as the
// safety net for tensors nobody disposed.
enum class Lookup { Ok, NotHandle, Disposed };

struct GeneratorBox {
  static constexpr uint32_t kMagic = 0x7e45a002;
  uint32_t magic = kMagic;
  at::Generator g;
};

// Stores a tensor and returns its handle (undefined tensors become `undefined`).
Napi::Value WrapTensor(Napi::Env env, at::Tensor t);
// Reads a tensor handle; throws naming `what` if the value is not a live tensor handle.
at::Tensor UnwrapTensor(Napi::Env env, napi_value v, const char* what);
// Non-throwing lookup: fills *out when the handle is live.
Lookup FindTensor(napi_env env, napi_value v, at::Tensor* out);
GeneratorBox* AsGeneratorBox(napi_env env, napi_value v);
Napi::Value WrapGenerator(Napi::Env env, at::Generator g);

// "f32[128,3,32,32] cpu" — used in error messages.
std::string Describe(const at::Tensor& t);
const char* DTypeName(at::ScalarType s);

// Runs `fn`, translating libtorch and standard exceptions into JavaScript errors prefixed with `op`.
template <typename F>
auto Guarded(Napi::Env env, const std::string& op, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, op + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, op + ": " + e.what());
  }
}

void InitBoxes(Napi::Env env, Napi::Object exports);
void InitTensorMeta(Napi::Env env, Napi::Object exports);
void InitTensorData(Napi::Env env, Napi::Object exports);
void InitDispatch(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);

}  // namespace divco
