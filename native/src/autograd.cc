// Autograd through libtorch: gradients, graph modes and backward.
#include "common.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <memory>
#include <vector>

namespace divco {

namespace {

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapTensor(info.Env(), info[0], "requiresGrad").requires_grad());
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = UnwrapTensor(info.Env(), info[0], "setRequiresGrad");
  bool on = info[1].ToBoolean();
  Guarded(info.Env(), "setRequiresGrad", [&] { t.set_requires_grad(on); });
  return info.Env().Undefined();
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapTensor(info.Env(), info[0], "isLeaf").is_leaf());
}

Napi::Value GradFn(const Napi::CallbackInfo& info) {
  const at::Tensor t = UnwrapTensor(info.Env(), info[0], "gradFn");
  auto fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return WrapTensor(info.Env(), UnwrapTensor(info.Env(), info[0], "grad").grad());
}

// setGrad(t, g | null): replaces (or clears, with null) the accumulated gradient.
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = UnwrapTensor(info.Env(), info[0], "setGrad");
  Guarded(info.Env(), "setGrad", [&] {
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
    else t.mutable_grad() = UnwrapTensor(info.Env(), info[1], "setGrad");
  });
  return info.Env().Undefined();
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = UnwrapTensor(info.Env(), info[0], "retainGrad");
  Guarded(info.Env(), "retainGrad", [&] { t.retain_grad(); });
  return info.Env().Undefined();
}

// backward(outputs[], grads[] | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outs = info[0].As<Napi::Array>();
  std::vector<at::Tensor> tensors, grads;
  for (uint32_t i = 0; i < outs.Length(); ++i) tensors.push_back(UnwrapTensor(env, outs.Get(i), "backward"));
  if (info[1].IsArray()) {
    auto gs = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < gs.Length(); ++i) {
      Napi::Value g = gs.Get(i);
      grads.push_back(g.IsNull() || g.IsUndefined() ? at::Tensor() : UnwrapTensor(env, g, "backward gradient"));
    }
  }
  c10::optional<bool> retain;
  if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
  bool create = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  Guarded(env, "backward", [&] {
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].requires_grad()) {
        throw std::runtime_error("output " + std::to_string(i) + " (" + Describe(tensors[i]) + ") does not require grad: no parameter it depends on has requiresGrad, or it was computed under noGrad");
      }
      if ((grads.size() <= i || !grads[i].defined()) && tensors[i].numel() != 1) {
        throw std::runtime_error("output " + std::to_string(i) + " (" + Describe(tensors[i]) + ") is not a scalar: pass the gradient of the loss with respect to it");
      }
    }
    torch::autograd::backward(tensors, grads, retain, create);
  });
  return env.Undefined();
}

Napi::Value GradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

// Inference mode is an RAII guard in C++; JavaScript scopes open and close it in strict LIFO
// order (inferenceMode(fn) does both in a finally), so a stack of heap guards is exact. The mode
// is per thread in libtorch, so the stack is too: a worker thread's scopes must neither pop the
// main thread's guard nor destroy a guard on a thread other than the one that made it.
std::vector<std::unique_ptr<c10::InferenceMode>>& InferenceGuards() {
  thread_local std::vector<std::unique_ptr<c10::InferenceMode>> guards;
  return guards;
}

Napi::Value EnterInferenceMode(const Napi::CallbackInfo& info) {
  InferenceGuards().push_back(std::make_unique<c10::InferenceMode>(true));
  return Napi::Number::New(info.Env(), static_cast<double>(InferenceGuards().size()));
}

Napi::Value ExitInferenceMode(const Napi::CallbackInfo& info) {
  if (InferenceGuards().empty()) throw Napi::Error::New(info.Env(), "exitInferenceMode: not in inference mode");
  InferenceGuards().pop_back();
  return info.Env().Undefined();
}

Napi::Value IsInferenceMode(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
}

}  // namespace

void InitAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad, "requiresGrad"));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad, "setRequiresGrad"));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf, "isLeaf"));
  exports.Set("gradFn", Napi::Function::New(env, GradFn, "gradFn"));
  exports.Set("grad", Napi::Function::New(env, Grad, "grad"));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad, "setGrad"));
  exports.Set("retainGrad", Napi::Function::New(env, RetainGrad, "retainGrad"));
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("gradEnabled", Napi::Function::New(env, GradEnabled, "gradEnabled"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
  exports.Set("enterInferenceMode", Napi::Function::New(env, EnterInferenceMode, "enterInferenceMode"));
  exports.Set("exitInferenceMode", Napi::Function::New(env, ExitInferenceMode, "exitInferenceMode"));
  exports.Set("isInferenceMode", Napi::Function::New(env, IsInferenceMode, "isInferenceMode"));
}

}  // namespace divco
