// Giving freed heap memory back to the operating system on request. The allocator is tuned to
// keep freed blocks (addon.cc), which is right for a training loop that reuses them every step;
// a worker thread that built a member network only to rebind it to the main thread's weights
// (infer/member_worker.ts) should not keep that memory resident for the rest of the process.
#include "common.h"

#include <malloc.h>

namespace divco {

namespace {

// malloc_trim(0) releases the free memory of every arena (the calling thread's included);
// returns whether any memory was released.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
}

}  // namespace divco
