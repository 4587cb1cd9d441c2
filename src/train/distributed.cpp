// Data parallelism through libtorch's c10d: a TCPStore for the rendezvous (rank 0 hosts it) and a Gloo process
// group (NCCL for CUDA when libtorch's c10d was built with it and USE_C10D_NCCL is defined); plus the local
// launcher behind `vl3 train --nproc N`.
//
// c10d's Gloo header is guarded by USE_C10D_GLOO, which libtorch's CMake config does not export; Debian's
// libtorch_cpu.so (and PyTorch's) is built with Gloo, so the define only exposes the declarations.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include "train/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include "vl3/error.h"

extern char** environ;

namespace vl3 {
namespace {

// libtorch 2.x splits ProcessGroup into a dispatcher and per-device Backends; the Gloo/NCCL classes are Backends.
#if TORCH_VERSION_MAJOR >= 2
using PGBase = c10d::Backend;
#else
using PGBase = c10d::ProcessGroup;
#endif

constexpr int64_t kBucketBytes = 25 << 20;                       // staging bucket size (~25 MB)
constexpr auto kStoreTimeout = std::chrono::seconds(300);        // rendezvous
constexpr auto kCollectiveTimeout = std::chrono::minutes(30);    // one collective (c10d's default)

// Integer environment variable `name` in [lo, hi]; `fallback` when unset (nullptr: required).
int env_int(const char* name, int lo, int hi, const int* fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (fallback) return *fallback;
    throw Error(std::string("distributed: environment variable ") + name + " is not set");
  }
  errno = 0;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    throw Error(std::string("distributed: ") + name + "=" + v + " is not an integer in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return int(x);
}

// 1-D views of `tensors` (contiguous copies for non-contiguous ones, recorded in `writeback`).
std::vector<torch::Tensor> flat_views(const std::vector<torch::Tensor>& tensors,
                                      std::vector<std::pair<torch::Tensor, torch::Tensor>>& writeback) {
  std::vector<torch::Tensor> flats;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    if (t.is_contiguous()) {
      flats.push_back(t.view(-1));
    } else {
      torch::Tensor c = t.contiguous();
      writeback.emplace_back(t, c);
      flats.push_back(c.view(-1));
    }
  }
  return flats;
}

// The Gloo transport device: on loopback for a local MASTER_ADDR, else on GLOO_SOCKET_IFNAME when set, else on
// the address this host's name resolves to (as PyTorch does).
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_addr);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<PGBase> pg;
  torch::Device bucket_device = torch::kCPU;  // where staging buckets live (CPU for Gloo)

  // Work is c10d::ProcessGroup::Work in libtorch 1.13, c10d::Work in 2.x.
  template <class WorkPtr>
  void wait(const WorkPtr& work) {
    try {
      if (!work->wait()) throw Error("distributed: collective failed");
    } catch (const c10::Error& e) {
      throw Error(std::string("distributed: collective failed: ") + e.what_without_backtrace());
    }
  }

  // Packs consecutive slices of `flats` into staging buckets of `dtype` (at most kBucketBytes each; a tensor may
  // span buckets), runs `collective` on each bucket and copies the result back (copy_ converts dtypes).
  void bucketed(const std::vector<torch::Tensor>& flats, torch::ScalarType dtype,
                const std::function<void(torch::Tensor&)>& collective) {
    int64_t total = 0;
    for (const auto& f : flats) total += f.numel();
    if (total == 0) return;
    const int64_t cap = std::min<int64_t>(total, kBucketBytes / int64_t(c10::elementSize(dtype)));
    torch::Tensor buffer = torch::empty({cap}, torch::TensorOptions().dtype(dtype).device(bucket_device));

    struct Slice { size_t tensor; int64_t offset, length, at; };
    std::vector<Slice> slices;
    int64_t used = 0;
    auto flush = [&] {
      if (used == 0) return;
      torch::Tensor bucket = buffer.narrow(0, 0, used);
      collective(bucket);
      for (const auto& s : slices) flats[s.tensor].narrow(0, s.offset, s.length).copy_(bucket.narrow(0, s.at, s.length));
      slices.clear();
      used = 0;
    };
    for (size_t i = 0; i < flats.size(); ++i) {
      for (int64_t off = 0, n = flats[i].numel(); off < n;) {
        const int64_t len = std::min(n - off, cap - used);
        buffer.narrow(0, used, len).copy_(flats[i].narrow(0, off, len));
        slices.push_back({i, off, len, used});
        used += len;
        off += len;
        if (used == cap) flush();
      }
    }
    flush();
  }
};

std::unique_ptr<Distributed> Distributed::from_env(const torch::Device& device) {
  std::unique_ptr<Distributed> d(new Distributed());
  const int one = 1;
  d->world_ = env_int("WORLD_SIZE", 1, 1 << 20, &one);
  if (d->world_ == 1) return d;  // single process: every collective is the identity

  // Validate everything before touching the network.
  d->rank_ = env_int("RANK", 0, d->world_ - 1, nullptr);
  d->local_rank_ = env_int("LOCAL_RANK", 0, INT_MAX, &d->rank_);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw Error("distributed: environment variable MASTER_ADDR is not set");
  const int port = env_int("MASTER_PORT", 1, 65535, nullptr);
#ifndef USE_C10D_NCCL
  if (device.is_cuda())
    throw Error("distributed: training on " + device.str() +
                " with WORLD_SIZE > 1 needs NCCL, and vl3 was built without it (USE_C10D_NCCL)");
#endif

  auto impl = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions opts;
    opts.port = uint16_t(port);
    opts.isServer = d->rank_ == 0;
    opts.numWorkers = size_t(d->world_);
    opts.waitWorkers = true;
    opts.timeout = kStoreTimeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(addr, opts);
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      impl->bucket_device = device;
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = kCollectiveTimeout;
      impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, d->rank_, d->world_, o);
    }
#endif
    if (!impl->pg) {
      auto o = c10d::ProcessGroupGloo::Options::create(kCollectiveTimeout);
      o->devices.push_back(gloo_device(addr));
      impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, d->rank_, d->world_, o);
    }
  } catch (const std::exception& e) {  // c10::Error (store, group) or gloo::Exception (device)
    const auto* c10e = dynamic_cast<const c10::Error*>(&e);
    throw Error("distributed: rank " + std::to_string(d->rank_) + " of " + std::to_string(d->world_) +
                " could not join the process group at " + addr + ":" + std::to_string(port) + ": " +
                (c10e ? c10e->what_without_backtrace() : e.what()));
  }
  d->impl_ = std::move(impl);
  return d;
}

Distributed::~Distributed() {
  if (impl_) impl_->pg.reset();  // the group before the store it rendezvoused through
}

void Distributed::allreduce_sum(const std::vector<torch::Tensor>& tensors) {
  if (!impl_) return;
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> writeback;
  auto flats = flat_views(tensors, writeback);
  impl_->bucketed(flats, torch::kFloat, [&](torch::Tensor& bucket) {
    std::vector<torch::Tensor> v{bucket};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    impl_->wait(impl_->pg->allreduce(v, opts));
  });
  for (auto& [orig, copy] : writeback) orig.copy_(copy);
}

double Distributed::allreduce_sum(double value) {
  if (!impl_) return value;
  std::vector<torch::Tensor> v{
      torch::full({1}, value, torch::TensorOptions().dtype(torch::kDouble).device(impl_->bucket_device))};
  impl_->wait(impl_->pg->allreduce(v));
  return v[0].item<double>();
}

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (!impl_) return;
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> writeback;
  auto flats = flat_views(tensors, writeback);
  // Bytes, not values: a copy must be exact whatever the dtype (int64 step counters, bf16 weights).
  for (auto& f : flats) f = f.view(torch::kUInt8);
  impl_->bucketed(flats, torch::kUInt8, [&](torch::Tensor& bucket) {
    std::vector<torch::Tensor> v{bucket};
    c10d::BroadcastOptions opts;
    opts.rootRank = 0;
    impl_->wait(impl_->pg->broadcast(v, opts));
  });
  for (auto& [orig, copy] : writeback) orig.copy_(copy);
}

void Distributed::barrier() {
  if (impl_) impl_->wait(impl_->pg->barrier());
}

// ---------------------------------------------------------------------------------------------------------
// Local launcher

namespace {

// Children of the running launcher (0 once reaped), read by the signal handler to forward SIGINT/SIGTERM.
constexpr int kMaxChildren = 1024;
pid_t g_children[kMaxChildren];
volatile sig_atomic_t g_nchildren = 0;

void forward_signal(int sig) {
  for (int i = 0; i < g_nchildren; ++i)
    if (g_children[i] > 0) kill(g_children[i], sig);
}

// A TCP port that was free a moment ago on 127.0.0.1 (the kernel picks it; we close it again).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("launcher: socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int err = errno;
    close(fd);
    throw Error(std::string("launcher: cannot find a free port: ") + std::strerror(err));
  }
  close(fd);
  return ntohs(a.sin_port);
}

// Shell-style exit status: the code, or 128 + signal.
int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int launch_local_workers(int nproc, const std::vector<std::string>& argv) {
  if (nproc < 1 || nproc > kMaxChildren)
    throw Error("launcher: --nproc must be in [1, " + std::to_string(kMaxChildren) + "], got " + std::to_string(nproc));
  if (argv.empty()) throw Error("launcher: empty command line");

  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) throw Error(std::string("launcher: readlink /proc/self/exe: ") + std::strerror(errno));
  exe[n] = 0;

  // Arguments: argv[0] -> this executable; "--nproc N" and "--nproc=N" removed.
  std::vector<std::string> args{exe};
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") { ++i; continue; }
    if (argv[i].rfind("--nproc=", 0) == 0) continue;
    args.push_back(argv[i]);
  }

  // Environment shared by all workers; RANK/LOCAL_RANK appended per worker. Built before fork(): between
  // fork() and exec() only async-signal-safe calls are allowed.
  const char* addr_env = std::getenv("MASTER_ADDR");
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  const std::string port = port_env && *port_env ? port_env : std::to_string(free_port());
  std::vector<std::string> base_env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key != "RANK" && key != "LOCAL_RANK" && key != "WORLD_SIZE" && key != "MASTER_ADDR" && key != "MASTER_PORT")
      base_env.push_back(kv);
  }
  base_env.push_back("WORLD_SIZE=" + std::to_string(nproc));
  base_env.push_back("MASTER_ADDR=" + addr);
  base_env.push_back("MASTER_PORT=" + port);

  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(const_cast<char*>(a.c_str()));
  cargs.push_back(nullptr);

  // Forward SIGINT/SIGTERM to the workers while they run.
  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  g_nchildren = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  auto terminate_all = [&](int sig) {
    for (int i = 0; i < g_nchildren; ++i)
      if (g_children[i] > 0) kill(g_children[i], sig);
  };

  int first_failure = 0;
  for (int r = 0; r < nproc && first_failure == 0; ++r) {
    std::vector<std::string> env = base_env;
    env.push_back("RANK=" + std::to_string(r));
    env.push_back("LOCAL_RANK=" + std::to_string(r));
    std::vector<char*> cenv;
    for (auto& kv : env) cenv.push_back(const_cast<char*>(kv.c_str()));
    cenv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      execve(exe, cargs.data(), cenv.data());
      const char msg[] = "vl3 launcher: exec failed\n";
      (void)!write(2, msg, sizeof(msg) - 1);
      _exit(127);
    }
    if (pid < 0) {  // could not start every worker: stop the ones that run, report as a failure
      first_failure = 1;
      terminate_all(SIGTERM);
      break;
    }
    g_children[r] = pid;
    g_nchildren = r + 1;
  }

  // Reap the workers. On the first failure, SIGTERM the others and SIGKILL them after a grace period.
  using Clock = std::chrono::steady_clock;
  bool escalated = false;
  Clock::time_point kill_at = Clock::time_point::max();
  if (first_failure) kill_at = Clock::now() + std::chrono::seconds(5);
  for (int alive = g_nchildren; alive > 0;) {
    for (int i = 0; i < g_nchildren; ++i) {
      if (g_children[i] <= 0) continue;
      int status = 0;
      pid_t r = waitpid(g_children[i], &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;
      g_children[i] = 0;  // reaped (or lost): never signal this pid again
      --alive;
      const int code = r < 0 ? 1 : exit_code(status);
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        terminate_all(SIGTERM);
        kill_at = Clock::now() + std::chrono::seconds(5);
      }
    }
    if (!escalated && Clock::now() >= kill_at) {
      terminate_all(SIGKILL);
      escalated = true;
    }
    if (alive > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  g_nchildren = 0;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return first_failure;
}

}  // namespace vl3
