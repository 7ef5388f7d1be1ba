// The generic operator binding. Instead of one hand-written C++ function per ATen operator,
// JavaScript looks an operator up once by its schema name ("aten::conv2d", overload "") and
// then calls it through the dispatcher with arguments converted according to the operator's
// own schema. Autograd, oneDNN and device dispatch all happen inside libtorch exactly as they
// do for PyTorch; every ATen operator of the linked libtorch is reachable without new C++.
#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace divco {

namespace {

struct OpEntry {
  c10::OperatorHandle handle;
  std::string label;  // "aten::add.Tensor"
};

// The operator table is process-wide, but every worker thread (each its own JavaScript isolate)
// looks operators up and calls them concurrently. Entries live in fixed chunks that never move, so
// a caller may read an entry without a lock while another thread appends; `count` is published
// with release order after the entry is written, so an id below it always names a complete entry.
// Lookups take the mutex and reuse an existing id for the same operator, so every isolate gets
// the same id for one operator and the table stays as small as the set of operators used.
class OpTable {
 public:
  static constexpr size_t kChunk = 256;
  static constexpr size_t kChunks = 256;  // 65,536 operators; libtorch 1.13 has about 2,500

  uint32_t Intern(const c10::OperatorHandle& handle, const std::string& label) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = ids_.find(label);
    if (found != ids_.end()) return found->second;
    size_t id = count_.load(std::memory_order_relaxed);
    if (id >= kChunk * kChunks) throw std::runtime_error("divco: operator table full");
    auto& chunk = chunks_[id / kChunk];
    if (!chunk) chunk = std::make_unique<std::optional<OpEntry>[]>(kChunk);
    chunk[id % kChunk].emplace(OpEntry{handle, label});
    ids_.emplace(label, static_cast<uint32_t>(id));
    count_.store(id + 1, std::memory_order_release);
    return static_cast<uint32_t>(id);
  }

  // nullptr for an id never handed out.
  const OpEntry* Find(uint32_t id) const {
    if (id >= count_.load(std::memory_order_acquire)) return nullptr;
    return &*chunks_[id / kChunk][id % kChunk];
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::unique_ptr<std::optional<OpEntry>[]> chunks_[kChunks];
  std::atomic<size_t> count_{0};
};

OpTable& Ops() {
  static OpTable table;
  return table;
}

napi_valuetype TypeOf(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t;
}

[[noreturn]] void BadArg(Napi::Env env, const OpEntry& op, const c10::Argument& arg, const std::string& want) {
  throw Napi::TypeError::New(env, op.label + ": argument `" + arg.name() + "` must be " + want + " (schema type " + arg.type()->str() + ")");
}

double NumberOf(Napi::Env env, napi_value v, const OpEntry& op, const c10::Argument& arg) {
  napi_valuetype t = TypeOf(env, v);
  if (t == napi_number) {
    double x;
    napi_get_value_double(env, v, &x);
    return x;
  }
  if (t == napi_bigint) {
    int64_t x;
    bool lossless;
    napi_get_value_bigint_int64(env, v, &x, &lossless);
    return static_cast<double>(x);
  }
  BadArg(env, op, arg, "a number");
}

int64_t IntOf(Napi::Env env, napi_value v, const OpEntry& op, const c10::Argument& arg) {
  if (TypeOf(env, v) == napi_bigint) {
    int64_t x;
    bool lossless;
    napi_get_value_bigint_int64(env, v, &x, &lossless);
    return x;
  }
  double x = NumberOf(env, v, op, arg);
  if (std::trunc(x) != x || std::abs(x) > 9007199254740991.0) BadArg(env, op, arg, "an integer");
  return static_cast<int64_t>(x);
}

bool IsNullish(napi_env env, napi_value v) {
  napi_valuetype t = TypeOf(env, v);
  return t == napi_undefined || t == napi_null;
}

uint32_t ArrayLength(Napi::Env env, napi_value v, const OpEntry& op, const c10::Argument& arg) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array) BadArg(env, op, arg, "an array");
  uint32_t n;
  napi_get_array_length(env, v, &n);
  return n;
}

napi_value Element(napi_env env, napi_value arr, uint32_t i) {
  napi_value e;
  napi_get_element(env, arr, i, &e);
  return e;
}

c10::IValue ToList(Napi::Env env, napi_value v, const c10::TypePtr& elem, const OpEntry& op, const c10::Argument& arg) {
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      // A single number stands for the whole list, as in PyTorch: stride=2 means [2, 2].
      if (TypeOf(env, v) == napi_number || TypeOf(env, v) == napi_bigint) {
        int64_t x = IntOf(env, v, op, arg);
        return c10::List<int64_t>(std::vector<int64_t>(arg.N().value_or(1), x));
      }
      uint32_t n = ArrayLength(env, v, op, arg);
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = IntOf(env, Element(env, v, i), op, arg);
      return c10::List<int64_t>(std::move(out));
    }
    case c10::TypeKind::FloatType: {
      uint32_t n = ArrayLength(env, v, op, arg);
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = NumberOf(env, Element(env, v, i), op, arg);
      return c10::List<double>(std::move(out));
    }
    case c10::TypeKind::BoolType: {
      uint32_t n = ArrayLength(env, v, op, arg);
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; ++i) {
        bool b = false;
        if (napi_get_value_bool(env, Element(env, v, i), &b) != napi_ok) BadArg(env, op, arg, "an array of booleans");
        out.push_back(b);
      }
      return out;
    }
    case c10::TypeKind::TensorType: {
      uint32_t n = ArrayLength(env, v, op, arg);
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(UnwrapTensor(env, Element(env, v, i), (op.label + " `" + arg.name() + "`").c_str()));
      return out;
    }
    case c10::TypeKind::OptionalType: {
      // Tensor?[] — advanced indexing takes a list where null means "all of this dimension".
      uint32_t n = ArrayLength(env, v, op, arg);
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; ++i) {
        napi_value e = Element(env, v, i);
        if (IsNullish(env, e)) out.push_back(c10::nullopt);
        else out.push_back(UnwrapTensor(env, e, (op.label + " `" + arg.name() + "`").c_str()));
      }
      return out;
    }
    default:
      BadArg(env, op, arg, "a list of a kind divco does not convert yet");
  }
}

c10::IValue ToIValue(Napi::Env env, napi_value v, const c10::TypePtr& type, const OpEntry& op, const c10::Argument& arg) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (IsNullish(env, v)) return c10::IValue();
      return ToIValue(env, v, type->expectRef<c10::OptionalType>().getElementType(), op, arg);
    case c10::TypeKind::TensorType: {
      at::Tensor t;
      Lookup r = FindTensor(env, v, &t);
      if (r == Lookup::Disposed) throw Napi::Error::New(env, op.label + ": argument `" + arg.name() + "` was disposed; keep it (or clone it) if it is still needed");
      if (r != Lookup::Ok) BadArg(env, op, arg, "a tensor");
      return t;
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return IntOf(env, v, op, arg);
    case c10::TypeKind::FloatType:
      return NumberOf(env, v, op, arg);
    case c10::TypeKind::NumberType: {
      // A Scalar: integers stay integral so that `intTensor.add(1)` stays integral, as with
      // Python literals; anything fractional is a double.
      napi_valuetype t = TypeOf(env, v);
      if (t == napi_boolean) {
        bool b;
        napi_get_value_bool(env, v, &b);
        return b;
      }
      if (t == napi_bigint) return IntOf(env, v, op, arg);
      double x = NumberOf(env, v, op, arg);
      if (std::trunc(x) == x && std::abs(x) <= 9007199254740991.0) return static_cast<int64_t>(x);
      return x;
    }
    case c10::TypeKind::BoolType: {
      bool b;
      if (napi_get_value_bool(env, v, &b) != napi_ok) BadArg(env, op, arg, "a boolean");
      return b;
    }
    case c10::TypeKind::StringType: {
      if (TypeOf(env, v) != napi_string) BadArg(env, op, arg, "a string");
      return Napi::Value(env, v).As<Napi::String>().Utf8Value();
    }
    case c10::TypeKind::DeviceObjType: {
      if (TypeOf(env, v) != napi_string) BadArg(env, op, arg, "a device string such as \"cpu\" or \"cuda:0\"");
      return c10::Device(Napi::Value(env, v).As<Napi::String>().Utf8Value());
    }
    case c10::TypeKind::GeneratorType: {
      GeneratorBox* box = AsGeneratorBox(env, v);
      if (box == nullptr) BadArg(env, op, arg, "a generator");
      return box->g;
    }
    case c10::TypeKind::ListType:
      return ToList(env, v, type->expectRef<c10::ListType>().getElementType(), op, arg);
    default:
      BadArg(env, op, arg, "a value of a kind divco does not convert yet");
  }
}

Napi::Value FromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) return WrapTensor(env, std::move(v).toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto list = std::move(v).toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), WrapTensor(env, list.get(i)));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  if (v.isTuple()) {
    auto elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(static_cast<uint32_t>(i), FromIValue(env, c10::IValue(elems[i])));
    return out;
  }
  if (v.isScalar()) {
    at::Scalar s = v.toScalar();
    return Napi::Number::New(env, s.toDouble());
  }
  throw Napi::Error::New(env, std::string("divco: cannot convert a result of type ") + v.tagKind());
}

// On failure the message names the operator and every tensor argument's dtype, shape, device.
std::string DescribeCall(Napi::Env env, const OpEntry& op, const Napi::CallbackInfo& info) {
  std::ostringstream out;
  out << op.label << "(";
  const auto& args = op.handle.schema().arguments();
  for (size_t i = 1; i < info.Length() && i - 1 < args.size(); ++i) {
    if (i > 1) out << ", ";
    out << args[i - 1].name() << "=";
    at::Tensor t;
    const c10::TypePtr& type = args[i - 1].type();
    bool tensor_arg = type->kind() == c10::TypeKind::TensorType ||
        (type->kind() == c10::TypeKind::OptionalType && type->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType);
    Lookup r = tensor_arg ? FindTensor(env, info[i], &t) : Lookup::NotHandle;
    if (r == Lookup::Ok) out << Describe(t);
    else if (r == Lookup::Disposed) out << "disposed";
    else if (info[i].IsArray()) {
      auto arr = info[i].As<Napi::Array>();
      out << "[";
      for (uint32_t j = 0; j < arr.Length(); ++j) {
        at::Tensor e;
        bool is_tensor = FindTensor(env, arr.Get(j), &e) == Lookup::Ok;
        out << (j ? ", " : "") << (is_tensor ? Describe(e) : arr.Get(j).ToString().Utf8Value());
      }
      out << "]";
    } else out << info[i].ToString().Utf8Value();
  }
  out << ")";
  return out.str();
}

const OpEntry& EntryOf(const Napi::CallbackInfo& info) {
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  const OpEntry* entry = Ops().Find(id);
  if (!entry) throw Napi::RangeError::New(info.Env(), "divco: unknown operator id " + std::to_string(id));
  return *entry;
}

// Converts the JavaScript arguments, runs the operator, and leaves its results on the stack.
torch::jit::Stack Run(const Napi::CallbackInfo& info, const OpEntry& op) {
  Napi::Env env = info.Env();
  const auto& args = op.handle.schema().arguments();
  size_t given = info.Length() - 1;
  if (given > args.size()) {
    throw Napi::TypeError::New(env, op.label + ": " + std::to_string(given) + " arguments given, the schema takes " + std::to_string(args.size()) + ": " + c10::toString(op.handle.schema()));
  }
  torch::jit::Stack stack;
  stack.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const c10::Argument& arg = args[i];
    napi_value v = i < given ? static_cast<napi_value>(info[i + 1]) : static_cast<napi_value>(env.Undefined());
    if (TypeOf(env, v) == napi_undefined) {
      if (arg.default_value()) {
        stack.push_back(*arg.default_value());
        continue;
      }
      if (arg.type()->kind() == c10::TypeKind::OptionalType) {
        stack.emplace_back();
        continue;
      }
      throw Napi::TypeError::New(env, op.label + ": missing argument `" + arg.name() + "` (" + arg.type()->str() + ")");
    }
    stack.push_back(ToIValue(env, v, arg.type(), op, arg));
  }
  try {
    op.handle.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, DescribeCall(env, op, info) + " failed: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, DescribeCall(env, op, info) + " failed: " + e.what());
  }
  return stack;
}

// opLookup(name, overload) -> id, cached by the caller.
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto handle = c10::Dispatcher::singleton().findSchema(c10::OperatorName(name, overload));
  if (!handle) {
    throw Napi::Error::New(env, "divco: the linked libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  }
  // The id comes back from the same locked call that stored the entry: reading the table's size
  // afterwards could return another thread's operator.
  uint32_t id = Ops().Intern(*handle, name + (overload.empty() ? "" : "." + overload));
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), c10::toString(EntryOf(info).handle.schema()));
}

Napi::Value HasOp(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  return Napi::Boolean::New(info.Env(), c10::Dispatcher::singleton().findSchema(c10::OperatorName(name, overload)).has_value());
}

// call(id, ...args) -> result (a tensor handle, an array for several results, a number, ...)
Napi::Value Call(const Napi::CallbackInfo& info) {
  const OpEntry& op = EntryOf(info);
  torch::jit::Stack stack = Run(info, op);
  Napi::Env env = info.Env();
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return FromIValue(env, std::move(stack[0]));
  auto out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(static_cast<uint32_t>(i), FromIValue(env, std::move(stack[i])));
  return out;
}

// callVoid(id, ...args): for in-place operators whose result is an argument the caller holds;
// skips creating handles nobody reads.
Napi::Value CallVoid(const Napi::CallbackInfo& info) {
  Run(info, EntryOf(info));
  return info.Env().Undefined();
}

}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("opLookup", Napi::Function::New(env, OpLookup, "opLookup"));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema, "opSchema"));
  exports.Set("hasOp", Napi::Function::New(env, HasOp, "hasOp"));
  exports.Set("call", Napi::Function::New(env, Call, "call"));
  exports.Set("callVoid", Napi::Function::New(env, CallVoid, "callVoid"));
}

}  // namespace divco
