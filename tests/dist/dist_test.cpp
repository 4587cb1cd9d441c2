// Distributed: environment validation, single-process identity, and real 2-process collectives over loopback.
//
// Multi-process tests run this same test binary as the workers: the parent test sets VL3_DIST_TEST_WORKER=1 and
// calls launch_local_workers({"...", "--gtest_filter=Dist.Worker"}); launch_local_workers resolves argv[0]
// through /proc/self/exe, so each child is this binary running only Dist.Worker, which then plays the role
// named by VL3_DIST_TEST_MODE and leaves its findings under VL3_DIST_TEST_OUT.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "test_util.h"
#include "train/distributed.h"
#include "vl3/error.h"

namespace {

// Sets (or unsets, value == nullptr) an environment variable for the scope, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A clean torchrun-style environment for the scope (everything unset unless given).
struct DistEnv {
  ScopedEnv world, rank, local, addr, port;
  DistEnv(const char* w, const char* r, const char* a = nullptr, const char* p = nullptr, const char* lr = nullptr)
      : world("WORLD_SIZE", w), rank("RANK", r), local("LOCAL_RANK", lr), addr("MASTER_ADDR", a),
        port("MASTER_PORT", p) {}
};

bool is_worker() { return std::getenv("VL3_DIST_TEST_WORKER") != nullptr; }

// from_env must throw a vl3::Error whose message names `variable`.
void expect_env_error(const char* variable, const torch::Device& device = torch::kCPU) {
  try {
    vl3::Distributed::from_env(device);
    ADD_FAILURE() << "no error; expected one naming " << variable;
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find(variable), std::string::npos) << e.what();
  }
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

// Runs `nproc` copies of Dist.Worker in `mode`; returns launch_local_workers' status.
int launch(int nproc, const std::string& mode, const std::string& out, std::vector<std::string> extra_args = {}) {
  DistEnv clean(nullptr, nullptr);
  ScopedEnv worker("VL3_DIST_TEST_WORKER", "1"), m("VL3_DIST_TEST_MODE", mode.c_str()),
      o("VL3_DIST_TEST_OUT", out.c_str());
  std::vector<std::string> argv{"argv0-is-replaced", "--gtest_filter=Dist.Worker"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return vl3::launch_local_workers(nproc, argv);
}

// ----- worker roles (run in the children) -----

void worker_collectives(const std::string& out) {
  auto d = vl3::Distributed::from_env();
  const int r = d->rank();
  ASSERT_EQ(d->world_size(), 2);
  EXPECT_EQ(d->local_rank(), r);
  EXPECT_EQ(d->is_main(), r == 0);
  EXPECT_STREQ(std::getenv("MASTER_ADDR"), "127.0.0.1");

  // Leave the command line for the parent (checks argv[0] resolution and --nproc removal).
  std::ofstream(out + "/cmdline." + std::to_string(r)) << vl3test::read_file("/proc/self/cmdline");

  // allreduce_sum: rank r contributes (r + 1) * x, so the sum is 3 * x. Small integers: exact in fp32 and bf16.
  const int64_t big_n = 30 * 1024 * 1024 / 4 + 3;  // 30 MB of fp32: spans two 25 MB buckets
  const double k = r + 1;
  auto a = torch::arange(15, torch::kFloat).reshape({3, 5}) * k;
  auto b = (torch::arange(7, torch::kFloat) * k).to(torch::kBFloat16);
  auto big = torch::remainder(torch::arange(big_n, torch::kFloat), 1000) * k;
  auto nc = (torch::arange(12, torch::kFloat).reshape({3, 4}) * k).t();  // non-contiguous
  auto f64 = torch::full({5}, 0.5 * k, torch::kDouble);
  d->allreduce_sum({a, b, big, nc, f64});
  EXPECT_TRUE(a.equal(torch::arange(15, torch::kFloat).reshape({3, 5}) * 3));
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(b.equal((torch::arange(7, torch::kFloat) * 3).to(torch::kBFloat16)));
  EXPECT_TRUE(big.equal(torch::remainder(torch::arange(big_n, torch::kFloat), 1000) * 3));
  EXPECT_TRUE(nc.equal((torch::arange(12, torch::kFloat).reshape({3, 4}) * 3).t()));
  EXPECT_TRUE(f64.equal(torch::full({5}, 1.5, torch::kDouble)));

  // allreduce_sum(double) keeps fp64 precision.
  EXPECT_DOUBLE_EQ(d->allreduce_sum(1e-10 * k), 3e-10);
  EXPECT_EQ(d->allreduce_sum(r + 0.25), 1.5);

  // broadcast: everyone ends with rank 0's values, bit-exact whatever the dtype.
  auto p = torch::full({1001}, float(r + 1));
  auto q = torch::full({9}, r + 1.0, torch::TensorOptions().dtype(torch::kBFloat16));
  auto steps = torch::full({3}, (int64_t(1) << 40) + r, torch::TensorOptions().dtype(torch::kLong));
  auto big2 = torch::full({big_n}, float(r + 7));
  auto nc2 = torch::full({4, 3}, float(r + 1)).t();
  d->broadcast({p, q, steps, big2, nc2});
  EXPECT_TRUE(p.equal(torch::full({1001}, 1.0f)));
  EXPECT_TRUE(q.equal(torch::full({9}, 1.0, torch::TensorOptions().dtype(torch::kBFloat16))));
  EXPECT_TRUE(steps.equal(torch::full({3}, int64_t(1) << 40, torch::TensorOptions().dtype(torch::kLong))));
  EXPECT_TRUE(big2.equal(torch::full({big_n}, 7.0f)));
  EXPECT_TRUE(nc2.equal(torch::full({3, 4}, 1.0f)));

  d->barrier();
  if (!::testing::Test::HasFailure()) std::ofstream(out + "/ok." + std::to_string(r)) << "ok";
}

// Rank 0 would run for two minutes; with `ignore_term` it ignores SIGTERM, so that only the launcher's SIGKILL
// stops it. Once rank 0 is ready, rank 1 fails with `code` (> 0) or dies by SIGKILL (code < 0).
void worker_failing(const std::string& out, int code, bool ignore_term) {
  const int rank = std::atoi(std::getenv("RANK"));
  const std::string ready = out + "/ready";
  if (rank == 1) {
    for (int i = 0; i < 3000 && !std::filesystem::exists(ready); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (code < 0) kill(getpid(), SIGKILL);
    std::_Exit(code);
  }
  if (ignore_term) signal(SIGTERM, SIG_IGN);
  std::ofstream(ready) << "ready";
  std::this_thread::sleep_for(std::chrono::minutes(2));
}

// Both ranks say they are ready and sleep for two minutes (until a forwarded signal ends them).
void worker_sleeping(const std::string& out) {
  std::ofstream(out + "/ready." + std::getenv("RANK")) << "ready";
  std::this_thread::sleep_for(std::chrono::minutes(2));
}

}  // namespace

// The worker role; skipped when this binary runs as the parent test suite.
TEST(Dist, Worker) {
  if (!is_worker()) GTEST_SKIP() << "worker role (run by the multi-process tests)";
  const std::string mode = std::getenv("VL3_DIST_TEST_MODE");
  const std::string out = std::getenv("VL3_DIST_TEST_OUT");
  if (mode == "collectives") worker_collectives(out);
  else if (mode == "exit3") worker_failing(out, 3, /*ignore_term=*/true);
  else if (mode == "sigkill") worker_failing(out, -1, /*ignore_term=*/false);
  else if (mode == "sleep") worker_sleeping(out);
  else FAIL() << "unknown VL3_DIST_TEST_MODE " << mode;
}

TEST(Dist, TwoProcessCollectives) {
  if (is_worker()) GTEST_SKIP();
  vl3test::TempDir tmp;
  // "--nproc 2" and "--nproc=2" must be removed; other arguments kept in order.
  int rc = launch(2, "collectives", tmp.str(), {"--nproc", "2", "--vl3_keep_me", "--nproc=2"});
  EXPECT_EQ(rc, 0);
  const std::string expected_cmdline = self_exe() + '\0' + "--gtest_filter=Dist.Worker" + '\0' + "--vl3_keep_me" + '\0';
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(vl3test::read_file(tmp.str("ok." + std::to_string(r))), "ok") << "rank " << r;
    EXPECT_EQ(vl3test::read_file(tmp.str("cmdline." + std::to_string(r))), expected_cmdline) << "rank " << r;
  }
}

TEST(Dist, FailingWorkerStopsTheOthers) {
  if (is_worker()) GTEST_SKIP();
  vl3test::TempDir tmp;
  // Rank 1 exits with 3; rank 0 ignores SIGTERM, so the launcher must escalate to SIGKILL, and still report 3.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(launch(2, "exit3", tmp.str()), 3);
  // Rank 1 killed by a signal: 128 + 9; rank 0 stops at the launcher's SIGTERM.
  std::filesystem::remove(tmp.str("ready"));
  EXPECT_EQ(launch(2, "sigkill", tmp.str()), 128 + SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));  // the workers would sleep 2 min
}

TEST(Dist, LauncherForwardsSigterm) {
  if (is_worker()) GTEST_SKIP();
  vl3test::TempDir tmp;
  auto t0 = std::chrono::steady_clock::now();
  // Once both workers run, SIGTERM this process: the launcher's handler forwards it to the workers.
  std::thread terminator([&] {
    for (int i = 0; i < 6000; ++i) {
      if (std::filesystem::exists(tmp.str("ready.0")) && std::filesystem::exists(tmp.str("ready.1"))) {
        kill(getpid(), SIGTERM);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const int rc = launch(2, "sleep", tmp.str());
  terminator.join();
  EXPECT_EQ(rc, 128 + SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
}

TEST(Dist, LaunchRejectsBadNproc) {
  EXPECT_THROW(vl3::launch_local_workers(0, {"x"}), vl3::Error);
  EXPECT_THROW(vl3::launch_local_workers(2, {}), vl3::Error);
}

TEST(Dist, SingleProcessIsIdentity) {
  for (const char* world : {(const char*)nullptr, "1"}) {
    DistEnv env(world, nullptr);
    auto d = vl3::Distributed::from_env();
    EXPECT_EQ(d->world_size(), 1);
    EXPECT_EQ(d->rank(), 0);
    EXPECT_EQ(d->local_rank(), 0);
    EXPECT_TRUE(d->is_main());
    auto a = torch::arange(10, torch::kFloat);
    auto b = torch::ones({3}, torch::kBFloat16);
    d->allreduce_sum({a, b});
    d->broadcast({a, b});
    d->barrier();
    EXPECT_TRUE(a.equal(torch::arange(10, torch::kFloat)));
    EXPECT_TRUE(b.equal(torch::ones({3}, torch::kBFloat16)));
    EXPECT_EQ(d->allreduce_sum(2.5), 2.5);
  }
}

TEST(Dist, FromEnvErrorsNameTheVariable) {
  { DistEnv e("two", "0", "127.0.0.1", "29500"); expect_env_error("WORLD_SIZE"); }
  { DistEnv e("0", "0", "127.0.0.1", "29500"); expect_env_error("WORLD_SIZE"); }
  { DistEnv e("2", nullptr, "127.0.0.1", "29500"); expect_env_error("RANK"); }
  { DistEnv e("2", "abc", "127.0.0.1", "29500"); expect_env_error("RANK"); }
  { DistEnv e("2", "2", "127.0.0.1", "29500"); expect_env_error("RANK"); }
  { DistEnv e("2", "-1", "127.0.0.1", "29500"); expect_env_error("RANK"); }
  { DistEnv e("2", "1", "127.0.0.1", "29500", "x"); expect_env_error("LOCAL_RANK"); }
  { DistEnv e("2", "1", nullptr, "29500"); expect_env_error("MASTER_ADDR"); }
  { DistEnv e("2", "1", "127.0.0.1", nullptr); expect_env_error("MASTER_PORT"); }
  { DistEnv e("2", "1", "127.0.0.1", "0"); expect_env_error("MASTER_PORT"); }
  { DistEnv e("2", "1", "127.0.0.1", "65536"); expect_env_error("MASTER_PORT"); }
  { DistEnv e("2", "1", "127.0.0.1", "12a"); expect_env_error("MASTER_PORT"); }
#ifndef USE_C10D_NCCL
  { DistEnv e("2", "1", "127.0.0.1", "29500"); expect_env_error("NCCL", torch::Device(torch::kCUDA, 0)); }
#endif
}
