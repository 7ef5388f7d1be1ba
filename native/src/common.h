// Shared declarations of the divco addon. The addon is a thin layer over libtorch: it owns
// tensor handles, converts JavaScript values to ATen arguments and back, and turns C++
// exceptions into JavaScript errors. It holds no model logic (DESIGN.md §2).
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <string>

namespace divco {

// A native value handed to JavaScript as a napi external. The magic word tells the kinds apart
// so that passing a generator where a tensor is expected is a clear error, not a crash.
enum class BoxKind : uint32_t { Tensor = 0x7e45a001, Generator = 0x7e45a002 };

struct TensorBox {
  BoxKind kind = BoxKind::Tensor;
  at::Tensor t;            // undefined once disposed
  int64_t reported = 0;    // bytes reported to V8 as external memory for this handle
};

struct GeneratorBox {
  BoxKind kind = BoxKind::Generator;
  at::Generator g;
};

// Wraps a tensor in a new JavaScript handle (undefined tensors become `undefined`).
Napi::Value WrapTensor(Napi::Env env, at::Tensor t);
// Reads a tensor handle; throws a TypeError naming `what` if the value is not a live tensor.
at::Tensor& UnwrapTensor(Napi::Env env, napi_value v, const char* what);
// Like UnwrapTensor but returns nullptr for anything that is not a tensor handle.
TensorBox* AsTensorBox(napi_env env, napi_value v);
GeneratorBox* AsGeneratorBox(napi_env env, napi_value v);
Napi::Value WrapGenerator(Napi::Env env, at::Generator g);
// Frees the tensor's memory now; the handle stays valid as "disposed".
void DisposeBox(napi_env env, TensorBox* box);

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

}  // namespace divco
