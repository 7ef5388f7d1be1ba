// Module entry: tunes the allocator once, then registers every binding group.
#include "common.h"

#include <malloc.h>

namespace {

// Training allocates and frees the same activation sizes every step. glibc's defaults serve
// blocks above 128 KiB with mmap and return them with munmap, so each step would page-fault
// its activations in again; measured here that alone costs a large share of throughput
// (DESIGN.md §2). Keeping blocks up to 32 MiB in the heap and never trimming it makes freed
// activation memory reusable by the next step.
void TuneAllocator() {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  divco::InitBoxes(env, exports);
  divco::InitTensorMeta(env, exports);
  divco::InitTensorData(env, exports);
  divco::InitDispatch(env, exports);
  divco::InitAutograd(env, exports);
  divco::InitRuntime(env, exports);
  divco::InitDist(env, exports);
  divco::InitMemory(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(divco_native, Init)
