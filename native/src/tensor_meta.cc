// Read-only facts about a tensor: shape, strides, dtype, device, layout flags.
#include "common.h"

namespace divco {

namespace {

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info.Env(), info[0], "shape");
  auto out = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return out;
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info.Env(), info[0], "strides");
  auto out = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
  return out;
}

Napi::Value Dim(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(UnwrapTensor(info.Env(), info[0], "dim").dim()));
}

Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(UnwrapTensor(info.Env(), info[0], "numel").numel()));
}

Napi::Value DType(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(UnwrapTensor(info.Env(), info[0], "dtype").scalar_type()));
}

Napi::Value Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), UnwrapTensor(info.Env(), info[0], "device").device().str());
}

// Whether the tensor is dense in the given memory format (0 contiguous, 2 channels-last).
Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info.Env(), info[0], "isContiguous");
  auto format = static_cast<at::MemoryFormat>(info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0);
  return Napi::Boolean::New(info.Env(), t.is_contiguous(format));
}

Napi::Value DescribeHandle(const Napi::CallbackInfo& info) {
  at::Tensor t;
  switch (FindTensor(info.Env(), info[0], &t)) {
    case Lookup::Ok: return Napi::String::New(info.Env(), divco::Describe(t));
    case Lookup::Disposed: return Napi::String::New(info.Env(), "disposed");
    default: throw Napi::TypeError::New(info.Env(), "describe: expected a tensor handle");
  }
}

// True when two handles view the same memory (same storage); used by tests and by the
// in-place checks of optimizers.
Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  const at::Tensor& a = UnwrapTensor(info.Env(), info[0], "sameStorage");
  const at::Tensor& b = UnwrapTensor(info.Env(), info[1], "sameStorage");
  return Napi::Boolean::New(info.Env(), a.is_alias_of(b));
}

}  // namespace

void InitTensorMeta(Napi::Env env, Napi::Object exports) {
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  exports.Set("strides", Napi::Function::New(env, Strides, "strides"));
  exports.Set("dim", Napi::Function::New(env, Dim, "dim"));
  exports.Set("numel", Napi::Function::New(env, Numel, "numel"));
  exports.Set("dtype", Napi::Function::New(env, DType, "dtype"));
  exports.Set("device", Napi::Function::New(env, Device, "device"));
  exports.Set("isContiguous", Napi::Function::New(env, IsContiguous, "isContiguous"));
  exports.Set("describe", Napi::Function::New(env, DescribeHandle, "describe"));
  exports.Set("sameStorage", Napi::Function::New(env, SameStorage, "sameStorage"));
}

}  // namespace divco
