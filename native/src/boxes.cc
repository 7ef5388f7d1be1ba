// Tensor and generator handles: creation, type checks, disposal and finalisation.
#include "common.h"

#include <sstream>

namespace divco {

namespace {

// Bytes this handle should count against V8's heap budget, so that garbage collection runs
// when forgotten handles pin a lot of native memory. Only fresh storages are counted: a view
// shares its base's storage, and counting it again would make GC run for nothing.
int64_t OwnedBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  const auto& s = t.storage();
  if (s.use_count() != 1 || t.device().type() != c10::DeviceType::CPU) return 0;
  return static_cast<int64_t>(s.nbytes());
}

void Report(napi_env env, int64_t delta) {
  if (delta == 0) return;
  int64_t ignored;
  napi_adjust_external_memory(env, delta, &ignored);
}

void FinalizeTensor(napi_env env, void* data, void*) {
  auto* box = static_cast<TensorBox*>(data);
  Report(env, -box->reported);
  delete box;
}

void FinalizeGenerator(napi_env, void* data, void*) { delete static_cast<GeneratorBox*>(data); }

template <typename Box>
Box* AsBox(napi_env env, napi_value v, BoxKind kind) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == nullptr) return nullptr;
  auto* box = static_cast<Box*>(data);
  return box->kind == kind ? box : nullptr;
}

}  // namespace

const char* DTypeName(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return "f32";
    case at::kDouble: return "f64";
    case at::kHalf: return "f16";
    case at::kBFloat16: return "bf16";
    case at::kLong: return "i64";
    case at::kInt: return "i32";
    case at::kShort: return "i16";
    case at::kChar: return "i8";
    case at::kByte: return "u8";
    case at::kBool: return "bool";
    default: return c10::toString(s);
  }
}

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream out;
  out << DTypeName(t.scalar_type()) << "[";
  for (int64_t i = 0; i < t.dim(); ++i) out << (i ? "," : "") << t.size(i);
  out << "] " << t.device();
  return out.str();
}

Napi::Value WrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Undefined();
  auto* box = new TensorBox();
  box->reported = OwnedBytes(t);
  box->t = std::move(t);
  napi_value out;
  napi_status st = napi_create_external(env, box, FinalizeTensor, nullptr, &out);
  if (st != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "divco: could not create a tensor handle");
  }
  Report(env, box->reported);
  return Napi::Value(env, out);
}

Napi::Value WrapGenerator(Napi::Env env, at::Generator g) {
  auto* box = new GeneratorBox();
  box->g = std::move(g);
  napi_value out;
  napi_create_external(env, box, FinalizeGenerator, nullptr, &out);
  return Napi::Value(env, out);
}

TensorBox* AsTensorBox(napi_env env, napi_value v) { return AsBox<TensorBox>(env, v, BoxKind::Tensor); }
GeneratorBox* AsGeneratorBox(napi_env env, napi_value v) {
  return AsBox<GeneratorBox>(env, v, BoxKind::Generator);
}

at::Tensor& UnwrapTensor(Napi::Env env, napi_value v, const char* what) {
  TensorBox* box = AsTensorBox(env, v);
  if (box == nullptr) throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  if (!box->t.defined()) {
    throw Napi::Error::New(env, std::string(what) + ": the tensor was disposed; keep it (or clone it) if it is still needed");
  }
  return box->t;
}

void DisposeBox(napi_env env, TensorBox* box) {
  Report(env, -box->reported);
  box->reported = 0;
  box->t.reset();
}

namespace {

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  TensorBox* box = AsTensorBox(info.Env(), info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), "dispose: expected a tensor handle");
  DisposeBox(info.Env(), box);
  return info.Env().Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  TensorBox* box = AsTensorBox(info.Env(), info[0]);
  if (box == nullptr) throw Napi::TypeError::New(info.Env(), "isDisposed: expected a tensor handle");
  return Napi::Boolean::New(info.Env(), !box->t.defined());
}

}  // namespace

void InitBoxes(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
}

}  // namespace divco
