// Moving bytes between JavaScript buffers and tensors.
#include "common.h"

#include <cstring>

namespace divco {

namespace {

std::vector<int64_t> ReadShape(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + ": shape must be an array of non-negative integers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value d = arr.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0) || x != static_cast<double>(static_cast<int64_t>(x))) {
      throw Napi::TypeError::New(env, std::string(what) + ": shape[" + std::to_string(i) + "] must be a non-negative integer");
    }
    shape[i] = static_cast<int64_t>(x);
  }
  return shape;
}

// Bytes of a TypedArray, DataView, Buffer or ArrayBuffer. The data pointer comes straight from
// N-API's typed-array info, which also works for views of a SharedArrayBuffer (the data
// loader's worker buffers), where wrapping the backing store as an ArrayBuffer would fail.
std::pair<uint8_t*, size_t> Bytes(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t offset;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset), (std::pair<uint8_t*, size_t>{}));
    return {static_cast<uint8_t*>(data), static_cast<size_t>(v.As<Napi::TypedArray>().ByteLength())};
  }
  if (v.IsDataView()) {
    size_t length;
    void* data;
    napi_value ab;
    size_t offset;
    NAPI_THROW_IF_FAILED(env, napi_get_dataview_info(env, v, &length, &data, &ab, &offset), (std::pair<uint8_t*, size_t>{}));
    return {static_cast<uint8_t*>(data), length};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
  }
  throw Napi::TypeError::New(env, std::string(what) + ": expected a TypedArray, Buffer or ArrayBuffer");
}

// fromBytes(bytes, shape, dtype) -> tensor. Copies: the tensor must not depend on a JavaScript
// buffer whose lifetime the garbage collector decides (see `view` for the zero-copy direction).
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [data, nbytes] = Bytes(env, info[0], "fromBytes");
  auto shape = ReadShape(env, info[1], "fromBytes");
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  return Guarded(env, "fromBytes", [&]() -> Napi::Value {
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t want = static_cast<size_t>(t.numel()) * t.element_size();
    if (want != nbytes) {
      throw Napi::RangeError::New(env, "fromBytes: " + std::to_string(nbytes) + " bytes given for " + Describe(t) + ", which needs " + std::to_string(want));
    }
    if (nbytes) std::memcpy(t.data_ptr(), data, nbytes);
    return WrapTensor(env, std::move(t));
  });
}

// toBytes(tensor) -> ArrayBuffer holding a C-contiguous CPU copy.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& src = UnwrapTensor(env, info[0], "toBytes");
  return Guarded(env, "toBytes", [&]() -> Napi::Value {
    at::Tensor t = src.detach().to(at::kCPU).contiguous();
    size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
    auto out = Napi::ArrayBuffer::New(env, nbytes);
    if (nbytes) std::memcpy(out.Data(), t.data_ptr(), nbytes);
    return out;
  });
}

// view(tensor) -> ArrayBuffer over the tensor's own memory, no copy. Only for dense CPU
// tensors; the buffer keeps the storage alive until the buffer itself is collected, so it
// stays valid after the tensor handle is disposed.
Napi::Value View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = UnwrapTensor(env, info[0], "view");
  if (!t.device().is_cpu() || !t.is_contiguous()) {
    throw Napi::Error::New(env, "view: only C-contiguous CPU tensors can be viewed without a copy, got " + Describe(t) + (t.is_contiguous() ? "" : " (not contiguous)"));
  }
  auto* keep = new at::Tensor(t);
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (nbytes == 0) {
    delete keep;
    return Napi::ArrayBuffer::New(env, 0);
  }
  return Napi::ArrayBuffer::New(env, t.data_ptr(), nbytes, [](Napi::Env, void*, at::Tensor* k) { delete k; }, keep);
}

// item(tensor) -> number | boolean for one-element tensors.
Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = UnwrapTensor(env, info[0], "item");
  if (t.numel() != 1) throw Napi::RangeError::New(env, "item: needs a tensor with one element, got " + Describe(t));
  return Guarded(env, "item", [&]() -> Napi::Value {
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  });
}

}  // namespace

void InitTensorData(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes, "fromBytes"));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes, "toBytes"));
  exports.Set("view", Napi::Function::New(env, View, "view"));
  exports.Set("item", Napi::Function::New(env, Item, "item"));
}

}  // namespace divco
