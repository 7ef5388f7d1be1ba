// The tensor slot table behind JavaScript tensor handles, and generator handles.
#include "common.h"

#include <mutex>
#include <sstream>
#include <vector>

namespace divco {

namespace {

constexpr uint64_t kSlotBits = 26;  // up to 67M live tensors
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr uint64_t kGenMask = (uint64_t{1} << 27) - 1;  // handles stay below 2^53

struct Slot {
  at::Tensor t;
  uint32_t gen = 1;
  int64_t reported = 0;  // bytes reported to V8 as external memory
};

// Guarded by a mutex so worker threads may use handles too; uncontended it costs ~20 ns.
std::mutex table_mutex;
std::vector<Slot> slots;
std::vector<uint32_t> free_slots;

// Bytes a handle should count against V8's heap budget, so that garbage collection runs when
// forgotten tensors pin a lot of native memory. Only fresh CPU storages count: a view shares
// its base's storage, and counting it again would make GC run for nothing.
int64_t OwnedBytes(const at::Tensor& t) {
  if (!t.has_storage() || t.device().type() != c10::DeviceType::CPU) return 0;
  const auto& s = t.storage();
  return s.use_count() == 1 ? static_cast<int64_t>(s.nbytes()) : 0;
}

void Report(napi_env env, int64_t delta) {
  if (delta == 0) return;
  int64_t ignored;
  napi_adjust_external_memory(env, delta, &ignored);
}

bool HandleOf(napi_env env, napi_value v, uint64_t* out) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number) return false;
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

// The slot of a live handle, or nullptr; the caller holds table_mutex.
Slot* LiveSlot(uint64_t h) {
  uint64_t index = h & kSlotMask;
  uint32_t gen = static_cast<uint32_t>(h >> kSlotBits);
  if (index >= slots.size() || slots[index].gen != gen || !slots[index].t.defined()) return nullptr;
  return &slots[index];
}

void FinalizeGenerator(napi_env, void* data, void*) { delete static_cast<GeneratorBox*>(data); }

}  // namespace

Napi::Value WrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Undefined();
  int64_t bytes = OwnedBytes(t);
  uint64_t handle;
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    uint32_t index;
    if (!free_slots.empty()) {
      index = free_slots.back();
      free_slots.pop_back();
    } else {
      if (slots.size() > kSlotMask) throw Napi::Error::New(env, "divco: too many live tensors (dispose the ones you no longer need)");
      index = static_cast<uint32_t>(slots.size());
      slots.emplace_back();
    }
    Slot& s = slots[index];
    s.t = std::move(t);
    s.reported = bytes;
    handle = (static_cast<uint64_t>(s.gen) << kSlotBits) | index;
  }
  Report(env, bytes);
  return Napi::Number::New(env, static_cast<double>(handle));
}

Lookup FindTensor(napi_env env, napi_value v, at::Tensor* out) {
  uint64_t h;
  if (!HandleOf(env, v, &h)) return Lookup::NotHandle;
  uint64_t index = h & kSlotMask;
  uint32_t gen = static_cast<uint32_t>(h >> kSlotBits);
  std::lock_guard<std::mutex> lock(table_mutex);
  if (index >= slots.size() || gen == 0) return Lookup::NotHandle;
  const Slot& s = slots[index];
  if (s.gen != gen || !s.t.defined()) return gen < s.gen ? Lookup::Disposed : Lookup::NotHandle;
  if (out) *out = s.t;
  return Lookup::Ok;
}

at::Tensor UnwrapTensor(Napi::Env env, napi_value v, const char* what) {
  at::Tensor t;
  switch (FindTensor(env, v, &t)) {
    case Lookup::Ok:
      return t;
    case Lookup::Disposed:
      throw Napi::Error::New(env, std::string(what) + ": the tensor was disposed; keep it (or clone it) if it is still needed");
    default:
      throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  }
}

Napi::Value WrapGenerator(Napi::Env env, at::Generator g) {
  auto* box = new GeneratorBox();
  box->g = std::move(g);
  napi_value out;
  napi_create_external(env, box, FinalizeGenerator, nullptr, &out);
  return Napi::Value(env, out);
}

GeneratorBox* AsGeneratorBox(napi_env env, napi_value v) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == nullptr) return nullptr;
  auto* box = static_cast<GeneratorBox*>(data);
  return box->magic == GeneratorBox::kMagic ? box : nullptr;
}

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

namespace {

// dispose(handle): frees the tensor now; later uses of the handle say "disposed". Idempotent.
Napi::Value Dispose(const Napi::CallbackInfo& info) {
  uint64_t h;
  if (!HandleOf(info.Env(), info[0], &h)) throw Napi::TypeError::New(info.Env(), "dispose: expected a tensor handle");
  at::Tensor dropped;  // released outside the lock: freeing a large tensor takes a moment
  int64_t reported = 0;
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    if (Slot* live = LiveSlot(h)) {
      Slot& s = *live;
      uint32_t index = static_cast<uint32_t>(h & kSlotMask);
      dropped = std::move(s.t);
      s.t.reset();
      reported = s.reported;
      s.reported = 0;
      s.gen = static_cast<uint32_t>((s.gen & kGenMask) + 1);
      if (s.gen > kGenMask) s.gen = 1;
      free_slots.push_back(index);
    }
  }
  Report(info.Env(), -reported);
  return info.Env().Undefined();
}

// rebind(dst, src): handle dst now refers to src's tensor — the same TensorImpl, so data,
// gradient and autograd identity are shared; dst's own tensor is released. A worker thread's
// copy of a member network uses it to compute with the main thread's parameters while its
// modules keep their own handles (cotrain/concurrent.ts).
Napi::Value Rebind(const Napi::CallbackInfo& info) {
  at::Tensor src = UnwrapTensor(info.Env(), info[1], "rebind (source)");
  uint64_t h;
  if (!HandleOf(info.Env(), info[0], &h)) throw Napi::TypeError::New(info.Env(), "rebind: expected a tensor handle");
  at::Tensor dropped;
  int64_t reported = 0;
  bool live = false;
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    if (Slot* s = LiveSlot(h)) {
      dropped = std::move(s->t);
      s->t = std::move(src);
      reported = s->reported;
      s->reported = 0;  // the storage is counted where it was created
      live = true;
    }
  }
  if (!live) throw Napi::Error::New(info.Env(), "rebind: the target tensor was disposed");
  Report(info.Env(), -reported);
  return info.Env().Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Lookup r = FindTensor(info.Env(), info[0], nullptr);
  if (r == Lookup::NotHandle) throw Napi::TypeError::New(info.Env(), "isDisposed: expected a tensor handle");
  return Napi::Boolean::New(info.Env(), r == Lookup::Disposed);
}

// liveTensors(): how many handles are live (for leak tests and diagnostics).
Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(table_mutex);
  return Napi::Number::New(info.Env(), static_cast<double>(slots.size() - free_slots.size()));
}

}  // namespace

void InitBoxes(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("rebind", Napi::Function::New(env, Rebind, "rebind"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors, "liveTensors"));
}

}  // namespace divco
