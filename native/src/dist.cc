// c10d from the linked libtorch, for distributed training (DESIGN.md §7): the TCPStore
// rendezvous, Gloo process groups on CPU (NCCL ones in CUDA builds), collectives that run off the
// JavaScript thread and resolve Promises, a timeout on every one of them, a heartbeat that names
// the rank that died when a collective fails, a bucketed gradient reducer hooked into autograd so
// all-reduces overlap the backward pass, a differentiable all_gather, and SyncBN as one fused
// autograd node.
//
// Nothing here is a home-made collective: every byte between processes goes through c10d.
// Built only where the Gloo headers exist (DIVCO_WITH_GLOO, set by find-libtorch.mjs); elsewhere
// the functions exist and say how to get them, and `distAvailable()` reports what was built.
#include "common.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <system_error>
#include <unistd.h>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#ifdef DIVCO_WITH_GLOO
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <ATen/Parallel.h>
#include <torch/csrc/api/include/torch/version.h>
#ifdef DIVCO_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace divco {

namespace {

// distAvailable(): which backends this build has.
Napi::Value DistAvailable(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
#ifdef DIVCO_WITH_GLOO
  out.Set("gloo", true);
#else
  out.Set("gloo", false);
#endif
#ifdef DIVCO_WITH_NCCL
  out.Set("nccl", true);
#else
  out.Set("nccl", false);
#endif
  return out;
}

#ifndef DIVCO_WITH_GLOO

Napi::Value NotBuilt(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "divco was built without c10d's Gloo backend (its headers were missing): install Debian's libgloo-dev "
                         "(scripts/setup.sh does) and rebuild the addon with `npm run build:native`");
}

}  // namespace

void InitDist(Napi::Env env, Napi::Object exports) {
  exports.Set("distAvailable", Napi::Function::New(env, DistAvailable, "distAvailable"));
  for (const char* name : {"distInitWorld", "distStoreSet", "distStoreGet", "distNewGroup", "distAllReduce",
                           "distBroadcast", "distAllGather", "distBarrier", "distAllGatherGrad", "distSyncBatchNorm",
                           "distReducer", "distBackward", "distReleaseReducer", "distDestroy", "distPeers", "distLeave"}) {
    exports.Set(name, Napi::Function::New(env, NotBuilt, name));
  }
}

}  // namespace divco

#else  // DIVCO_WITH_GLOO

using Ms = std::chrono::milliseconds;

// PyTorch 2 split c10d's ProcessGroup into a dispatching front and per-device backends; Gloo and
// NCCL are backends there, process groups in 1.13. Both have the same collective methods.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

std::string ErrorText(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// ---------------------------------------------------------------------------------------------
// The world: the rendezvous store and the heartbeat that tells a dead rank from a slow one.

// Every rank increments its counter "divco/hb/<rank>" in the store every kBeat on a thread of
// its own, over a connection of its own (a `get` waiting on the main connection must not delay
// it). When a collective fails, the counters are read twice, kBeat·3 apart: a rank whose counter
// did not move is dead or hung, and the error names it. The store lives in rank 0: when it cannot
// be reached, rank 0 is the one that died.
constexpr Ms kBeat{500};

// libtorch 1.13's TCPStore clients run a listening thread that ends the process with
// std::terminate when the store's host goes away (a std::system_error escapes it). Nothing can
// catch that; the handler below at least says what happened before the process exits.
std::atomic<int> terminate_rank{-1};
std::string terminate_where;  // "host:port", written once before the handler is installed
std::terminate_handler previous_terminate = nullptr;

void OnTerminate() {
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {  // std::system_error from the store thread; c10::Error too
      if (terminate_rank.load() >= 0) {
        std::fprintf(stderr,
                     "divco: rank 0 (the rendezvous host at %s) stopped responding (the process died or the machine is "
                     "unreachable): rank %d lost its connection to the store [%s]\n",
                     terminate_where.c_str(), terminate_rank.load(), error.what());
        std::fflush(stderr);
        _exit(1);
      }
    } catch (...) {
    }
  }
  if (previous_terminate) previous_terminate();
  std::abort();
}

class World {
 public:
  World(std::string host, int port, int rank, int size, Ms timeout)
      : host_(std::move(host)), port_(port), rank_(rank), size_(size), timeout_(timeout) {}

  ~World() { StopHeartbeat(); }

  void Connect() {
    static std::once_flag once;
    std::call_once(once, [this] {
      terminate_where = host_ + ":" + std::to_string(port_);
      previous_terminate = std::set_terminate(OnTerminate);
    });
    terminate_rank = rank_;
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(port_);
    o.isServer = rank_ == 0;
    o.waitWorkers = false;  // it would give up silently at the timeout: the ranks are counted below
    o.timeout = timeout_;
    store_ = c10::make_intrusive<c10d::TCPStore>(host_, o);
    c10d::TCPStoreOptions b;
    b.port = static_cast<std::uint16_t>(port_);
    b.isServer = false;
    b.waitWorkers = false;
    b.timeout = timeout_;
    beatStore_ = c10::make_intrusive<c10d::TCPStore>(host_, b);
    beatStore_->add(BeatKey(rank_), 1);
    beating_ = true;
    beat_ = std::thread([this] { Beat(); });
    // Every rank waits until all have joined, so a missing one is reported before training.
    int64_t joined = store_->add("divco/joined", 1);
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (joined < size_) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("only " + std::to_string(joined) + " of " + std::to_string(size_) + " ranks joined");
      }
      std::this_thread::sleep_for(Ms(20));
      joined = store_->add("divco/joined", 0);
    }
  }

  // The orderly end: every rank lets go of the store before rank 0, which hosts it, closes it
  // (so no rank's store thread sees the host vanish). Groups must be destroyed first.
  void Leave() {
    StopHeartbeat();
    beatStore_.reset();
    if (!store_) return;
    if (rank_ == 0) {
      auto deadline = std::chrono::steady_clock::now() + std::min(timeout_, Ms(30000));
      while (store_->add("divco/left", 0) < size_ - 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(Ms(20));
      }
      // The others release their connection right after counting themselves out.
      std::this_thread::sleep_for(Ms(200));
    } else {
      store_->add("divco/left", 1);
    }
    terminate_rank = -1;
    store_.reset();
  }

  void StopHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(beatMutex_);
      beating_ = false;
    }
    beatCv_.notify_all();
    if (beat_.joinable()) beat_.join();
  }

  // Which ranks stopped beating, as a sentence for an error message ("" when all are alive).
  std::string Diagnose() {
    try {
      c10d::TCPStoreOptions o;
      o.port = static_cast<std::uint16_t>(port_);
      o.isServer = false;
      o.waitWorkers = false;
      o.timeout = Ms(std::min<int64_t>(timeout_.count(), 5000));
      auto probe = c10::make_intrusive<c10d::TCPStore>(host_, o);
      auto read = [&] {
        std::vector<int64_t> beats(size_);
        for (int r = 0; r < size_; ++r) beats[r] = probe->add(BeatKey(r), 0);
        return beats;
      };
      auto before = read();
      std::this_thread::sleep_for(kBeat * 3);
      auto after = read();
      std::string dead, absent;
      int deadCount = 0, absentCount = 0;
      for (int r = 0; r < size_; ++r) {
        if (r == rank_ || after[r] != before[r]) continue;
        if (after[r] == 0) absent += (absentCount++ ? ", " : "") + std::to_string(r);
        else dead += (deadCount++ ? ", " : "") + std::to_string(r);
      }
      std::string out;
      if (deadCount) out = std::string(deadCount > 1 ? "ranks " : "rank ") + dead + " stopped responding (the process died or hangs)";
      if (absentCount) {
        out += (out.empty() ? "" : "; ") + std::string(absentCount > 1 ? "ranks " : "rank ") + absent +
               " never joined (started? with the same MASTER_ADDR/MASTER_PORT?)";
      }
      return out;
    } catch (const std::exception&) {
      return "rank 0 (the rendezvous host at " + host_ + ":" + std::to_string(port_) +
             ") stopped responding (the process died or the machine is unreachable)";
    }
  }

  c10::intrusive_ptr<c10d::Store> store() const { return store_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  static std::string BeatKey(int rank) { return "divco/hb/" + std::to_string(rank); }

  void Beat() {
    std::unique_lock<std::mutex> lock(beatMutex_);
    while (beating_) {
      beatCv_.wait_for(lock, kBeat, [this] { return !beating_; });
      if (!beating_) break;
      lock.unlock();
      try {
        beatStore_->add(BeatKey(rank_), 1);
      } catch (const std::exception&) {
        // The store is gone (rank 0 died): collectives will fail and Diagnose says so.
      }
      lock.lock();
    }
  }

  std::string host_;
  int port_;
  int rank_;
  int size_;
  Ms timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Store> beatStore_;
  std::thread beat_;
  std::mutex beatMutex_;
  std::condition_variable beatCv_;
  bool beating_ = false;
};

// A process group and what its errors need: the world (to diagnose), the global ranks it spans.
struct Group {
  std::shared_ptr<World> world;
  c10::intrusive_ptr<Collectives> pg;
  std::string backend;
  std::vector<int> ranks;  // global ranks, in group-rank order
  int rank = 0;            // this process's rank in the group
  Ms timeout{0};
  int64_t id = 0;          // in groups_by_id, for autograd nodes

  int size() const { return static_cast<int>(ranks.size()); }

  // Waits for `work` up to the timeout; a failure is rethrown with the dead ranks named.
  void Wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& op) {
    try {
      work->wait(timeout);  // NCCL: blocking wait (set below), so the data is there when it returns
    } catch (const std::exception& e) {
      throw std::runtime_error(Explain(op, ErrorText(e)));
    }
  }

  std::string Explain(const std::string& op, const std::string& error) {
    std::string why = world->Diagnose();
    std::string what = op + " on ranks " + Span() + " failed";
    if (!why.empty()) return what + ": " + why + " [" + error + "]";
    return what + " [" + error + "]";
  }

  std::string Span() const {
    std::string s;
    for (size_t i = 0; i < ranks.size(); ++i) s += (i ? "," : "") + std::to_string(ranks[i]);
    return s;
  }
};

// Boxes handed to JavaScript as externals; the magic number rejects foreign externals.
struct WorldBox {
  static constexpr uint32_t kMagic = 0x7e45d001;
  uint32_t magic = kMagic;
  std::shared_ptr<World> world;
};
struct GroupBox {
  static constexpr uint32_t kMagic = 0x7e45d002;
  uint32_t magic = kMagic;
  std::shared_ptr<Group> group;
};

template <typename Box>
Box* Unbox(Napi::Env env, Napi::Value v, const char* what) {
  void* data = nullptr;
  if (v.IsExternal()) data = v.As<Napi::External<void>>().Data();
  auto* box = static_cast<Box*>(data);
  if (box == nullptr || box->magic != Box::kMagic) throw Napi::TypeError::New(env, std::string(what) + ": expected a handle from divco's dist module");
  return box;
}

std::shared_ptr<Group> GroupArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  auto* box = Unbox<GroupBox>(info.Env(), info[i], what);
  if (!box->group) throw Napi::Error::New(info.Env(), std::string(what) + ": the process group was destroyed");
  return box->group;
}

// Groups by id, so an autograd node can find its group in backward without owning JS objects.
std::mutex groups_mutex;
std::unordered_map<int64_t, std::weak_ptr<Group>> groups_by_id;
int64_t next_group_id = 1;

int64_t RegisterGroup(const std::shared_ptr<Group>& g) {
  std::lock_guard<std::mutex> lock(groups_mutex);
  int64_t id = next_group_id++;
  groups_by_id[id] = g;
  return id;
}

std::shared_ptr<Group> FindGroup(int64_t id) {
  std::lock_guard<std::mutex> lock(groups_mutex);
  auto it = groups_by_id.find(id);
  auto g = it == groups_by_id.end() ? nullptr : it->second.lock();
  if (!g) throw std::runtime_error("the process group of this autograd graph was destroyed before backward");
  return g;
}

// ---------------------------------------------------------------------------------------------
// Work off the JavaScript thread: an AsyncWorker that runs `work` on libuv's pool and resolves
// (or rejects) a Promise with `done`'s value.

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::string op, std::function<void()> work, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env, "divco:dist"),
        deferred_(Napi::Promise::Deferred::New(env)),
        op_(std::move(op)),
        work_(std::move(work)),
        done_(std::move(done)),
        threads_(at::get_num_threads()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    // OpenMP's thread count is per thread: give the pool thread the caller's intra-op threads.
    at::set_num_threads(threads_);
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(op_.empty() ? ErrorText(e) : op_ + ": " + ErrorText(e));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string op_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> done_;
  int threads_;
};

Napi::Value Queue(Napi::Env env, const std::string& op, std::function<void()> work,
                  std::function<Napi::Value(Napi::Env)> done = nullptr) {
  auto* w = new PromiseWorker(env, op, std::move(work), std::move(done));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

std::string StringProp(Napi::Object o, const char* key, const std::string& fallback = "") {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

int64_t IntProp(Napi::Object o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

std::vector<at::Tensor> TensorList(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + ": expected an array of tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(UnwrapTensor(env, arr.Get(i), what));
  return out;
}

template <typename Box>
void DeleteBox(Napi::Env, Box* box) {
  delete box;
}

// ---------------------------------------------------------------------------------------------
// Rendezvous and groups.

// Rephrases the store's connection errors as what the user should check.
std::string RendezvousError(const World& w, const std::string& error, int64_t timeoutMs) {
  std::string at = w.host() + ":" + std::to_string(w.port());
  if (error.find("ddress already in use") != std::string::npos || error.find("EADDRINUSE") != std::string::npos ||
      error.find("failed to listen") != std::string::npos) {
    return "rank 0 could not listen on port " + std::to_string(w.port()) +
           ": it is already in use (another run, or a previous one still exiting); choose another --master-port / MASTER_PORT [" +
           error + "]";
  }
  if (error.find("ranks joined") != std::string::npos) {
    return "not every rank joined the rendezvous at " + at + " within " + std::to_string(timeoutMs / 1000) +
           " s (WORLD_SIZE=" + std::to_string(w.size()) + "; are all ranks started, with the same MASTER_ADDR/MASTER_PORT?) [" +
           error + "]";
  }
  return "rank " + std::to_string(w.rank()) + " could not reach the rendezvous at " + at + " within " +
         std::to_string(timeoutMs / 1000) +
         " s: is rank 0 running, MASTER_ADDR/MASTER_PORT right and the port open between the machines? [" + error + "]";
}

// distInitWorld({host, port, rank, size, timeoutMs}) → Promise<world>: connects to (rank 0: hosts)
// the TCPStore and waits until all `size` ranks have joined.
Napi::Value DistInitWorld(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "distInitWorld: expected {host, port, rank, size, timeoutMs}");
  auto o = info[0].As<Napi::Object>();
  std::string host = StringProp(o, "host");
  int port = static_cast<int>(IntProp(o, "port", -1));
  int rank = static_cast<int>(IntProp(o, "rank", -1));
  int size = static_cast<int>(IntProp(o, "size", -1));
  int64_t timeoutMs = IntProp(o, "timeoutMs", 300000);
  if (host.empty() || port < 0 || port > 65535 || size < 1 || rank < 0 || rank >= size || timeoutMs < 1) {
    throw Napi::RangeError::New(env, "distInitWorld: need host, port 0..65535, size ≥ 1, 0 ≤ rank < size, timeoutMs ≥ 1");
  }
  auto world = std::make_shared<World>(host, port, rank, size, Ms(timeoutMs));
  return Queue(
      env, "",
      [world, timeoutMs] {
        try {
          world->Connect();
        } catch (const std::exception& e) {
          world->StopHeartbeat();
          throw std::runtime_error(RendezvousError(*world, ErrorText(e), timeoutMs));
        }
      },
      [world](Napi::Env env) -> Napi::Value {
        auto* box = new WorldBox();
        box->world = world;
        return Napi::External<WorldBox>::New(env, box, DeleteBox<WorldBox>);
      });
}

// distStoreSet(world, key, value: string) → Promise<void>
Napi::Value DistStoreSet(const Napi::CallbackInfo& info) {
  auto world = Unbox<WorldBox>(info.Env(), info[0], "distStoreSet")->world;
  std::string key = info[1].As<Napi::String>().Utf8Value();
  std::string value = info[2].As<Napi::String>().Utf8Value();
  return Queue(info.Env(), "store set " + key, [world, key, value] {
    world->store()->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  });
}

// distStoreGet(world, key) → Promise<string>: waits (up to the store's timeout) for the key.
Napi::Value DistStoreGet(const Napi::CallbackInfo& info) {
  auto world = Unbox<WorldBox>(info.Env(), info[0], "distStoreGet")->world;
  std::string key = info[1].As<Napi::String>().Utf8Value();
  auto value = std::make_shared<std::string>();
  return Queue(
      info.Env(), "store get " + key,
      [world, key, value] {
        try {
          auto bytes = world->store()->get(key);
          value->assign(bytes.begin(), bytes.end());
        } catch (const std::exception& e) {
          std::string why = world->Diagnose();
          throw std::runtime_error(why.empty() ? ErrorText(e) : why + " [" + ErrorText(e) + "]");
        }
      },
      [value](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *value); });
}

// distNewGroup(world, {ranks, name, backend: "gloo"|"nccl", timeoutMs, ifname, hostname}) →
// Promise<group>. Only the listed ranks call it; `name` must be the same on all of them and
// unique per group (the store keys of its rendezvous live under it).
Napi::Value DistNewGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto world = Unbox<WorldBox>(env, info[0], "distNewGroup")->world;
  auto o = info[1].As<Napi::Object>();
  auto g = std::make_shared<Group>();
  g->world = world;
  auto ranks = o.Get("ranks").As<Napi::Array>();
  for (uint32_t i = 0; i < ranks.Length(); ++i) g->ranks.push_back(ranks.Get(i).As<Napi::Number>().Int32Value());
  auto me = std::find(g->ranks.begin(), g->ranks.end(), world->rank());
  if (me == g->ranks.end()) throw Napi::RangeError::New(env, "distNewGroup: this rank is not in the group's ranks");
  g->rank = static_cast<int>(me - g->ranks.begin());
  g->backend = StringProp(o, "backend", "gloo");
  g->timeout = Ms(IntProp(o, "timeoutMs", 300000));
  std::string name = StringProp(o, "name");
  std::string ifname = StringProp(o, "ifname");
  std::string hostname = StringProp(o, "hostname", "127.0.0.1");
  if (name.empty()) throw Napi::Error::New(env, "distNewGroup: a group name is required");
#ifndef DIVCO_WITH_NCCL
  if (g->backend == "nccl") {
    throw Napi::Error::New(env, "distNewGroup: this build has no NCCL backend (it needs a CUDA libtorch with NCCL headers); use gloo");
  }
#endif
  if (g->backend != "gloo" && g->backend != "nccl") throw Napi::Error::New(env, "distNewGroup: backend must be gloo or nccl, got " + g->backend);
  return Queue(
      env, "",
      [g, name, ifname, hostname] {
        auto store = c10::make_intrusive<c10d::PrefixStore>("divco/pg/" + name, g->world->store());
        try {
          if (g->backend == "gloo") {
            auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
            // The C++ API does not read GLOO_SOCKET_IFNAME (Python's init_process_group does): the
            // caller passes it, else the address that routes to the master (not the hostname, which
            // Debian resolves to 127.0.1.1, unreachable from other machines).
            opts->devices.push_back(ifname.empty() ? c10d::ProcessGroupGloo::createDeviceForHostname(hostname)
                                                   : c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, g->rank, g->size(), opts);
          }
#ifdef DIVCO_WITH_NCCL
          else {
            // Make wait() block this thread until the result is on the device, with the timeout
            // (the variable's name changed in PyTorch 2; it is read when the group is made).
            setenv("NCCL_BLOCKING_WAIT", "1", 0);
            setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
            auto opts = c10d::ProcessGroupNCCL::Options::create();
            opts->timeout = g->timeout;
            g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, g->rank, g->size(), opts);
          }
#endif
        } catch (const std::exception& e) {
          throw std::runtime_error(g->Explain("connecting the " + g->backend + " group", ErrorText(e)));
        }
      },
      [g](Napi::Env env) -> Napi::Value {
        g->id = RegisterGroup(g);
        auto* box = new GroupBox();
        box->group = g;
        return Napi::External<GroupBox>::New(env, box, DeleteBox<GroupBox>);
      });
}

// distDestroy(world | group): releases it now (a group's destructor waits for queued work).
Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  Napi::Value v = info[0];
  void* data = v.IsExternal() ? v.As<Napi::External<void>>().Data() : nullptr;
  if (data && static_cast<WorldBox*>(data)->magic == WorldBox::kMagic) {
    auto* box = static_cast<WorldBox*>(data);
    if (box->world) box->world->StopHeartbeat();
    box->world.reset();
  } else if (data && static_cast<GroupBox*>(data)->magic == GroupBox::kMagic) {
    static_cast<GroupBox*>(data)->group.reset();
  } else {
    throw Napi::TypeError::New(info.Env(), "distDestroy: expected a world or group handle");
  }
  return info.Env().Undefined();
}

// distLeave(world) → Promise<void>: the orderly end of a run (after its groups are destroyed).
Napi::Value DistLeave(const Napi::CallbackInfo& info) {
  auto* box = Unbox<WorldBox>(info.Env(), info[0], "distLeave");
  auto world = box->world;
  box->world.reset();
  if (!world) return Queue(info.Env(), "", [] {});
  return Queue(info.Env(), "leaving the rendezvous", [world] { world->Leave(); });
}

// distPeers(world) → Promise<string>: which ranks stopped beating ("" when all are alive).
Napi::Value DistPeers(const Napi::CallbackInfo& info) {
  auto world = Unbox<WorldBox>(info.Env(), info[0], "distPeers")->world;
  auto out = std::make_shared<std::string>();
  return Queue(
      info.Env(), "peers", [world, out] { *out = world->Diagnose(); },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out); });
}

// ---------------------------------------------------------------------------------------------
// Collectives. Lists of tensors of different shapes travel as one flat buffer per dtype (c10d's
// tensor lists are one tensor per device, not a list of different tensors).

c10d::ReduceOp ReduceOpOf(const std::string& op, bool* average) {
  *average = op == "avg";
  if (op == "sum" || op == "avg") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  throw std::runtime_error("unknown reduction " + op + " (sum, avg, max, min)");
}

// Flattens `tensors` (same dtype and device) into one buffer, runs `collective` on it, and copies
// the result back into them.
void OnFlat(std::vector<at::Tensor>& tensors, const std::function<void(at::Tensor&)>& collective) {
  if (tensors.size() == 1 && tensors[0].is_contiguous()) {
    collective(tensors[0]);
    return;
  }
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (auto& t : tensors) flat.push_back(t.reshape(-1));
  at::Tensor buffer = at::cat(flat);
  collective(buffer);
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(buffer.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

// Groups tensors by (dtype, device), keeping order within each.
std::vector<std::vector<at::Tensor>> ByKind(const std::vector<at::Tensor>& tensors) {
  std::vector<std::vector<at::Tensor>> out;
  std::vector<std::pair<at::ScalarType, c10::Device>> keys;
  for (const auto& t : tensors) {
    auto key = std::make_pair(t.scalar_type(), t.device());
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      out.emplace_back();
      out.back().push_back(t);
    } else {
      out[it - keys.begin()].push_back(t);
    }
  }
  return out;
}

// distAllReduce(group, tensors[], op) → Promise<void>: in place; avg = sum / group size.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  auto g = GroupArg(info, 0, "allReduce");
  auto tensors = TensorList(info.Env(), info[1], "allReduce");
  std::string op = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "sum";
  return Queue(info.Env(), "", [g, tensors, op]() mutable {
    at::NoGradGuard no_grad;  // parameters are leaves that require grad; these writes are not part of a graph
    bool average = false;
    c10d::AllreduceOptions o;
    o.reduceOp = ReduceOpOf(op, &average);
    o.timeout = g->timeout;
    for (auto& kind : ByKind(tensors)) {
      OnFlat(kind, [&](at::Tensor& buffer) {
        std::vector<at::Tensor> one{buffer};
        g->Wait(g->pg->allreduce(one, o), "allReduce");
        if (average) buffer.div_(g->size());
      });
    }
  });
}

// distBroadcast(group, tensors[], root) → Promise<void>: in place, from group rank `root`.
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  auto g = GroupArg(info, 0, "broadcast");
  auto tensors = TensorList(info.Env(), info[1], "broadcast");
  int root = info[2].As<Napi::Number>().Int32Value();
  if (root < 0 || root >= g->size()) throw Napi::RangeError::New(info.Env(), "broadcast: root outside the group");
  return Queue(info.Env(), "", [g, tensors, root]() mutable {
    at::NoGradGuard no_grad;
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = g->timeout;
    for (auto& kind : ByKind(tensors)) {
      OnFlat(kind, [&](at::Tensor& buffer) {
        std::vector<at::Tensor> one{buffer};
        g->Wait(g->pg->broadcast(one, o), "broadcast");
      });
    }
  });
}

std::vector<at::Tensor> AllGather(Group& g, const at::Tensor& x, const char* op) {
  std::vector<at::Tensor> in{x.contiguous()};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int i = 0; i < g.size(); ++i) out[0].push_back(at::empty_like(in[0]));
  c10d::AllgatherOptions o;
  o.timeout = g.timeout;
  g.Wait(g.pg->allgather(out, in, o), op);
  return out[0];
}

// distAllGather(group, tensor) → Promise<tensor[]>: every rank's tensor, in group-rank order
// (same shape on every rank). No autograd.
Napi::Value DistAllGather(const Napi::CallbackInfo& info) {
  auto g = GroupArg(info, 0, "allGather");
  at::Tensor x = UnwrapTensor(info.Env(), info[1], "allGather").detach();
  auto result = std::make_shared<std::vector<at::Tensor>>();
  return Queue(
      info.Env(), "", [g, x, result] { *result = AllGather(*g, x, "allGather"); },
      [result](Napi::Env env) -> Napi::Value {
        auto arr = Napi::Array::New(env, result->size());
        for (size_t i = 0; i < result->size(); ++i) arr.Set(static_cast<uint32_t>(i), WrapTensor(env, (*result)[i]));
        return arr;
      });
}

// distBarrier(group) → Promise<void>
Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  auto g = GroupArg(info, 0, "barrier");
  return Queue(info.Env(), "", [g] {
    c10d::BarrierOptions o;
    o.timeout = g->timeout;
    g->Wait(g->pg->barrier(o), "barrier");
  });
}

// ---------------------------------------------------------------------------------------------
// A differentiable all_gather: y = stack(x_0 … x_{W−1}); the gradient of x_r is Σ over ranks of
// ∂L_rank/∂y_r (an all-reduce of the incoming gradient), as each rank's loss depends on every
// rank's x. Synchronous: it is called inside a module's forward (SyncBN statistics), which is
// synchronous JavaScript; it is bounded by the group's timeout.

struct AllGatherGrad : public torch::autograd::Function<AllGatherGrad> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t groupId) {
    auto g = FindGroup(groupId);
    ctx->saved_data["group"] = groupId;
    return at::stack(AllGather(*g, x, "allGather (SyncBN statistics)"));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto g = FindGroup(ctx->saved_data["group"].toInt());
    at::Tensor total = grads[0].contiguous().clone();
    std::vector<at::Tensor> one{total};
    c10d::AllreduceOptions o;
    o.timeout = g->timeout;
    g->Wait(g->pg->allreduce(one, o), "allReduce (SyncBN gradients)");
    return {total.select(0, g->rank), at::Tensor()};
  }
};

// distAllGatherGrad(group, tensor) → tensor [W, ...]: blocks this thread (see above).
Napi::Value DistAllGatherGrad(const Napi::CallbackInfo& info) {
  auto* box = Unbox<GroupBox>(info.Env(), info[0], "allGatherGrad");
  if (!box->group) throw Napi::Error::New(info.Env(), "allGatherGrad: the process group was destroyed");
  at::Tensor x = UnwrapTensor(info.Env(), info[1], "allGatherGrad");
  int64_t id = box->group->id;
  return Guarded(info.Env(), "allGatherGrad", [&] { return WrapTensor(info.Env(), AllGatherGrad::apply(x, id)); });
}

// ---------------------------------------------------------------------------------------------
// SyncBN as one autograd node with fused kernels, the algorithm of PyTorch's CUDA SyncBatchNorm:
// forward, this rank's per-channel mean and biased variance in one pass (var_mean), one
// all_gather of (mean, var, count), the global statistics combined exactly (Chan et al.), the
// running statistics updated from them, and the normalisation as one fused batch_norm with the
// global statistics; backward, this rank's Σdy and Σdy·(x−μ) in two reductions, one all_reduce
// of both, and dx in place: (dy − mean(dy) − (x−μ)·invstd²·mean(dy·(x−μ)))·invstd·γ over the
// global batch. γ's and β's gradients stay this rank's own (the gradient reducer averages them,
// as for every parameter). Written with ordinary differentiable ops instead, the same
// arithmetic took 1.5–1.9× the whole training step (resnet29 S = 2, one thread): each op is a
// pass over the activation, and autograd keeps each intermediate for backward.

struct SyncBatchNormFn : public torch::autograd::Function<SyncBatchNormFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, at::Tensor runningMean, at::Tensor runningVar, double momentum,
                            double eps, int64_t groupId) {
    auto g = FindGroup(groupId);
    const int64_t C = x.size(1);
    const double count = static_cast<double>(x.numel() / C);
    const std::vector<int64_t> reduce{0, 2, 3};
    auto [var, mean] = at::var_mean(x, at::IntArrayRef(reduce), /*unbiased=*/false);
    at::Tensor local = at::cat({mean, var, at::full({1}, count, mean.options())});
    at::Tensor all = at::stack(AllGather(*g, local, "allGather (SyncBN statistics)"));  // [W, 2C+1]
    at::Tensor means = all.narrow(1, 0, C);
    at::Tensor counts = all.narrow(1, 2 * C, 1);
    const double total = counts.sum().item<double>();
    at::Tensor share = counts / total;
    at::Tensor globalMean = (means * share).sum(0);
    at::Tensor globalVar = ((all.narrow(1, C, C) + (means - globalMean).pow(2)) * share).sum(0);
    if (runningMean.defined() && runningVar.defined()) {
      runningMean.mul_(1 - momentum).add_(globalMean, momentum);
      runningVar.mul_(1 - momentum).add_(globalVar * (total / std::max(total - 1, 1.0)), momentum);
    }
    at::Tensor invstd = (globalVar + eps).rsqrt();
    at::Tensor y = at::batch_norm(x, weight, bias, globalMean, globalVar, /*training=*/false, 0.0, eps,
                                  /*cudnn_enabled=*/false);
    ctx->save_for_backward({x, weight, globalMean, invstd});
    ctx->saved_data["group"] = groupId;
    ctx->saved_data["total"] = total;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = FindGroup(ctx->saved_data["group"].toInt());
    const double total = ctx->saved_data["total"].toDouble();
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& globalMean = saved[2];
    const at::Tensor& invstd = saved[3];
    const at::Tensor& dy = grads[0];
    const int64_t C = x.size(1);
    const std::vector<int64_t> channel{1, C, 1, 1};
    at::Tensor xmu = x - globalMean.view(channel);
    const std::vector<int64_t> reduce{0, 2, 3};
    at::Tensor sumDy = dy.sum(at::IntArrayRef(reduce));
    at::Tensor sumDyXmu = (dy * xmu).sum(at::IntArrayRef(reduce));
    std::vector<at::Tensor> both{at::cat({sumDy, sumDyXmu})};
    c10d::AllreduceOptions o;
    o.timeout = g->timeout;
    g->Wait(g->pg->allreduce(both, o), "allReduce (SyncBN gradients)");
    at::Tensor meanDy = both[0].narrow(0, 0, C) / total;
    at::Tensor meanDyXmu = both[0].narrow(0, C, C) / total;
    at::Tensor scale = invstd * weight;
    // dx = (dy − mean(dy) − (x−μ)·invstd²·mean(dy·(x−μ)))·scale, reusing xmu's storage.
    at::Tensor dx = xmu.mul_((-invstd * invstd * meanDyXmu).view(channel));
    dx.add_(dy).sub_(meanDy.view(channel)).mul_(scale.view(channel));
    at::Tensor dWeight = sumDyXmu * invstd;
    at::Tensor dBias = sumDy;
    return {dx, dWeight, dBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// distSyncBatchNorm(group, x, weight|null, bias|null, runningMean|null, runningVar|null, momentum,
// eps) → y: blocks this thread for the all_gather (forward) and the all_reduce (backward), like
// distAllGatherGrad, bounded by the group's timeout.
Napi::Value DistSyncBatchNorm(const Napi::CallbackInfo& info) {
  auto* box = Unbox<GroupBox>(info.Env(), info[0], "syncBatchNorm");
  if (!box->group) throw Napi::Error::New(info.Env(), "syncBatchNorm: the process group was destroyed");
  auto optional = [&](int i) {
    return info[i].IsNull() || info[i].IsUndefined() ? at::Tensor() : UnwrapTensor(info.Env(), info[i], "syncBatchNorm");
  };
  at::Tensor x = UnwrapTensor(info.Env(), info[1], "syncBatchNorm");
  at::Tensor weight = optional(2), bias = optional(3), runningMean = optional(4), runningVar = optional(5);
  // Without affine parameters, γ = 1 and β = 0 that need no gradient: an autograd Function's
  // tensor inputs must be defined.
  if (!weight.defined()) weight = at::ones({x.size(1)}, x.options().requires_grad(false));
  if (!bias.defined()) bias = at::zeros({x.size(1)}, x.options().requires_grad(false));
  double momentum = info[6].As<Napi::Number>().DoubleValue();
  double eps = info[7].As<Napi::Number>().DoubleValue();
  int64_t id = box->group->id;
  return Guarded(info.Env(), "syncBatchNorm", [&] {
    return WrapTensor(info.Env(),
                      SyncBatchNormFn::apply(x, weight, bias, runningMean, runningVar, momentum, eps, id));
  });
}

// ---------------------------------------------------------------------------------------------
// The gradient reducer (what DDP's Reducer does, in small): parameters are assigned to buckets
// in reverse registration order (gradients become ready roughly back to front), the first bucket
// small so communication starts early. A post-hook on each parameter's gradient accumulator marks
// it ready; a bucket whose gradients are all ready is copied into its flat buffer and all-reduced
// asynchronously while backward goes on. Buckets launch strictly in index order, so every rank
// issues the same collectives in the same order. After backward the reducer waits for every
// bucket and writes the averaged gradients back.

class Reducer : public std::enable_shared_from_this<Reducer> {
 public:
  Reducer(std::shared_ptr<Group> group, std::vector<at::Tensor> params, int64_t firstBucketBytes, int64_t bucketBytes)
      : group_(std::move(group)), params_(std::move(params)) {
    Assign(firstBucketBytes, bucketBytes);
  }

  ~Reducer() { Unhook(); }

  void Hook() {
    auto self = weak_from_this();
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i].requires_grad()) throw std::runtime_error("reducer: parameter " + std::to_string(i) + " does not require grad");
      auto acc = torch::autograd::impl::grad_accumulator(params_[i]);
      if (!acc) throw std::runtime_error("reducer: parameter " + std::to_string(i) + " is not a leaf");
      struct Ready : torch::autograd::FunctionPostHook {
        std::weak_ptr<Reducer> reducer;
        size_t index;
        torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                                  const torch::autograd::variable_list&) override {
          if (auto r = reducer.lock()) r->MarkReady(index);
          return outputs;
        }
      };
      auto hook = std::make_unique<Ready>();
      hook->reducer = self;
      hook->index = i;
      hooks_.push_back(acc->add_post_hook(std::move(hook)));
      accumulators_.push_back(std::move(acc));
    }
  }

  // Called before a backward whose gradients are to be reduced.
  void Arm() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : buckets_) {
      b.pending = static_cast<int>(b.params.size());
      b.work.reset();
      b.launched = false;
    }
    next_ = 0;
    armed_ = true;
  }

  // After backward: launches what is left (parameters that got no gradient count as zeros),
  // waits for every bucket and writes the averaged gradients back.
  void Finish() {
    at::NoGradGuard no_grad;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      armed_ = false;
      for (size_t b = next_; b < buckets_.size(); ++b) Launch(b);
      next_ = buckets_.size();
    }
    for (auto& b : buckets_) {
      group_->Wait(b.work, "allReduce (gradient bucket)");
      b.buffer.div_(group_->size());
      for (size_t k = 0; k < b.params.size(); ++k) {
        at::Tensor& p = params_[b.params[k]];
        at::Tensor slice = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
        if (p.grad().defined()) p.mutable_grad().copy_(slice);
        else p.mutable_grad() = slice.clone();
      }
    }
  }

  void Disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

  size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;
    at::Tensor buffer;
    int pending = 0;
    bool launched = false;
    c10::intrusive_ptr<c10d::Work> work;
  };

  void Assign(int64_t firstBytes, int64_t bytes) {
    bucketOf_.assign(params_.size(), 0);
    std::vector<std::pair<at::ScalarType, c10::Device>> open_kind;
    std::vector<size_t> open_bucket;
    std::vector<int64_t> open_bytes;
    for (size_t n = params_.size(); n-- > 0;) {
      const at::Tensor& p = params_[n];
      auto kind = std::make_pair(p.scalar_type(), p.device());
      auto it = std::find(open_kind.begin(), open_kind.end(), kind);
      size_t k = it - open_kind.begin();
      int64_t size = static_cast<int64_t>(p.numel() * p.element_size());
      // The first bucket is small so that communication starts early; a parameter larger than
      // the cap gets a bucket of its own.
      bool full = it != open_kind.end() && open_bytes[k] > 0 &&
                  open_bytes[k] + size > (open_bucket[k] == 0 ? firstBytes : bytes);
      if (it == open_kind.end() || full) {
        buckets_.emplace_back();
        if (it == open_kind.end()) {
          open_kind.push_back(kind);
          open_bucket.push_back(buckets_.size() - 1);
          open_bytes.push_back(0);
          k = open_kind.size() - 1;
        } else {
          open_bucket[k] = buckets_.size() - 1;
          open_bytes[k] = 0;
        }
      }
      Bucket& b = buckets_[open_bucket[k]];
      b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
      b.params.push_back(n);
      bucketOf_[n] = open_bucket[k];
      open_bytes[k] += size;
    }
    for (auto& b : buckets_) {
      const at::Tensor& last = params_[b.params.back()];
      b.buffer = at::zeros({b.offsets.back() + last.numel()}, last.options());
    }
  }

  void MarkReady(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) return;
    Bucket& b = buckets_[bucketOf_[index]];
    if (--b.pending > 0) return;
    // Launch every bucket that is complete, in order: rank-consistent collective order.
    while (next_ < buckets_.size() && buckets_[next_].pending <= 0) Launch(next_++);
  }

  void Launch(size_t index) {
    Bucket& b = buckets_[index];
    if (b.launched) return;
    for (size_t k = 0; k < b.params.size(); ++k) {
      const at::Tensor& p = params_[b.params[k]];
      at::Tensor slice = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
      if (p.grad().defined()) slice.copy_(p.grad());
      else slice.zero_();
    }
    std::vector<at::Tensor> one{b.buffer};
    c10d::AllreduceOptions o;
    o.timeout = group_->timeout;
    b.work = group_->pg->allreduce(one, o);
    b.launched = true;
  }

  void Unhook() {
    for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hooks_[i]);
    accumulators_.clear();
    hooks_.clear();
  }

  std::shared_ptr<Group> group_;
  std::vector<at::Tensor> params_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: they carry our hooks
  std::vector<uintptr_t> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucketOf_;
  std::mutex mutex_;
  size_t next_ = 0;
  bool armed_ = false;
};

struct ReducerBox {
  static constexpr uint32_t kMagic = 0x7e45d003;
  uint32_t magic = kMagic;
  std::shared_ptr<Reducer> reducer;
};

// distReducer(group, params[], firstBucketBytes, bucketBytes) → {reducer, buckets}
Napi::Value DistReducer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = GroupArg(info, 0, "reducer");
  auto params = TensorList(env, info[1], "reducer");
  int64_t first = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : (1 << 20);
  int64_t bytes = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : (25 << 20);
  if (params.empty()) throw Napi::RangeError::New(env, "reducer: no parameters");
  return Guarded(env, "reducer", [&]() -> Napi::Value {
    auto r = std::make_shared<Reducer>(g, params, first, bytes);
    r->Hook();
    auto* box = new ReducerBox();
    box->reducer = r;
    auto out = Napi::Object::New(env);
    out.Set("reducer", Napi::External<ReducerBox>::New(env, box, [](Napi::Env, ReducerBox* b) { delete b; }));
    out.Set("buckets", Napi::Number::New(env, static_cast<double>(r->buckets())));
    return out;
  });
}

// distBackward(reducer | null, outputs[], grads[] | null) → Promise<void>: backward on libuv's
// pool; with a reducer, the gradients are all-reduced (averaged) as they become ready.
Napi::Value DistBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Reducer> reducer;
  if (!info[0].IsNull() && !info[0].IsUndefined()) {
    auto* box = Unbox<ReducerBox>(env, info[0], "backward");
    reducer = box->reducer;
    if (!reducer) throw Napi::Error::New(env, "backward: the reducer was destroyed");
  }
  auto outputs = TensorList(env, info[1], "backward");
  std::vector<at::Tensor> grads;
  if (info[2].IsArray()) {
    auto gs = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < gs.Length(); ++i) {
      Napi::Value g = gs.Get(i);
      grads.push_back(g.IsNull() || g.IsUndefined() ? at::Tensor() : UnwrapTensor(env, g, "backward gradient"));
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].requires_grad()) throw Napi::Error::New(env, "backward: output " + std::to_string(i) + " does not require grad");
  }
  return Queue(env, "backward", [reducer, outputs, grads] {
    if (reducer) reducer->Arm();
    try {
      torch::autograd::backward(outputs, grads);
      if (reducer) reducer->Finish();
    } catch (...) {
      if (reducer) reducer->Disarm();
      throw;
    }
  });
}

// distReleaseReducer(reducer): removes the hooks now.
Napi::Value DistReleaseReducer(const Napi::CallbackInfo& info) {
  Unbox<ReducerBox>(info.Env(), info[0], "releaseReducer")->reducer.reset();
  return info.Env().Undefined();
}

}  // namespace

void InitDist(Napi::Env env, Napi::Object exports) {
  exports.Set("distAvailable", Napi::Function::New(env, DistAvailable, "distAvailable"));
  exports.Set("distInitWorld", Napi::Function::New(env, DistInitWorld, "distInitWorld"));
  exports.Set("distStoreSet", Napi::Function::New(env, DistStoreSet, "distStoreSet"));
  exports.Set("distStoreGet", Napi::Function::New(env, DistStoreGet, "distStoreGet"));
  exports.Set("distNewGroup", Napi::Function::New(env, DistNewGroup, "distNewGroup"));
  exports.Set("distDestroy", Napi::Function::New(env, DistDestroy, "distDestroy"));
  exports.Set("distPeers", Napi::Function::New(env, DistPeers, "distPeers"));
  exports.Set("distLeave", Napi::Function::New(env, DistLeave, "distLeave"));
  exports.Set("distAllReduce", Napi::Function::New(env, DistAllReduce, "distAllReduce"));
  exports.Set("distBroadcast", Napi::Function::New(env, DistBroadcast, "distBroadcast"));
  exports.Set("distAllGather", Napi::Function::New(env, DistAllGather, "distAllGather"));
  exports.Set("distBarrier", Napi::Function::New(env, DistBarrier, "distBarrier"));
  exports.Set("distAllGatherGrad", Napi::Function::New(env, DistAllGatherGrad, "distAllGatherGrad"));
  exports.Set("distSyncBatchNorm", Napi::Function::New(env, DistSyncBatchNorm, "distSyncBatchNorm"));
  exports.Set("distReducer", Napi::Function::New(env, DistReducer, "distReducer"));
  exports.Set("distBackward", Napi::Function::New(env, DistBackward, "distBackward"));
  exports.Set("distReleaseReducer", Napi::Function::New(env, DistReleaseReducer, "distReleaseReducer"));
}

}  // namespace divco

#endif  // DIVCO_WITH_GLOO
