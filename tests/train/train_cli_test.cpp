// vl3 train as a user runs it, on the golden checkpoint: bad records, kill -9 + --resume, 2 processes
// against 1, and a checkpoint that reproduces the trainer's own loss in vl3 dump / vl3 run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "golden_model.h"
#include "model/tensor_io.h"
#include "cli_util.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using vl3test::run_vl3;

std::string media() { return vl3test::golden_dir() + "/media"; }

// n records over the golden media: images, text-only and one video, with distinct answers.
std::string write_data(const vl3test::TempDir& tmp, int n, const std::string& name = "train.jsonl") {
  std::ofstream f(tmp.str(name));
  const char* colors[] = {"red", "blue", "green", "white", "black", "pink", "grey", "gold"};
  for (int i = 0; i < n; ++i) {
    nlohmann::json r;
    const std::string c = colors[i % 8];
    if (i % 4 == 3) {
      r["conversations"] = {{{"from", "human"}, {"value", "Name a colour."}}, {{"from", "gpt"}, {"value", c + "."}}};
    } else if (i % 8 == 6) {
      r["video"] = {"video_160x120_8fps.mp4"};
      r["conversations"] = {{{"from", "human"}, {"value", "<video>\nWhat moves?"}},
                            {{"from", "gpt"}, {"value", "A " + c + " square."}}};
    } else {
      r["image"] = i % 2 ? "image_300x200.png" : "image_131x97.png";
      r["conversations"] = {{{"from", "human"}, {"value", "<image>\nWhat colour is the disc?"}},
                            {{"from", "gpt"}, {"value", "It is " + c + "."}}};
    }
    f << r.dump() << "\n";
  }
  return tmp.str(name);
}

std::vector<nlohmann::json> read_metrics(const std::string& out) {
  std::vector<nlohmann::json> m;
  std::ifstream f(out + "/metrics.jsonl");
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) m.push_back(nlohmann::json::parse(line));
  return m;
}

std::string train_args(const std::string& data, const std::string& out) {
  return "train -m " + vl3test::golden_model_dir() + " --data " + data + " --media-root " + media() + " --out " +
         out + " --threads 1 --seed 7";
}

}  // namespace

// Bad records are reported with their line and skipped (counted); --strict stops at the first one.
TEST(TrainCli, BadRecordsSkippedAndCounted) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  std::string data = write_data(tmp, 3);
  {
    std::ofstream f(data, std::ios::app);
    f << "{\"image\": \"nope.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\"}, "
         "{\"from\": \"gpt\", \"value\": \"x\"}]}\n";  // line 4: missing file
    f << "{not json\n";                               // line 5
    f << "{\"image\": \"" << tmp.str("corrupt.png") << "\", \"conversations\": [{\"from\": \"human\", \"value\": "
      << "\"<image>hi\"}, {\"from\": \"gpt\", \"value\": \"x\"}]}\n";  // line 6: corrupt media
  }
  std::ofstream(tmp.str("corrupt.png")) << "\x89PNG\r\n\x1a\n garbage";
  auto r = run_vl3(train_args(data, tmp.str("out")) + " --stage 2 --max-steps 1 --global-batch-size 6");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("train.jsonl:4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train.jsonl:5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train.jsonl:6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 records skipped"), std::string::npos) << r.out;
  auto strict = run_vl3(train_args(data, tmp.str("out2")) + " --stage 2 --max-steps 1 --strict");
  EXPECT_NE(strict.code, 0) << strict.out;
  EXPECT_NE(strict.out.find("train.jsonl:4"), std::string::npos) << strict.out;
  EXPECT_EQ(strict.out.find("terminate called"), std::string::npos);
}

// kill -9 in the middle, --resume: the loss curve equals the uninterrupted one, step for step.
TEST(TrainCli, KillAndResumeReproducesTheLossCurve) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  std::string data = write_data(tmp, 8);
  const std::string common = " --stage 3 --global-batch-size 2 --micro-batch-size 1 --max-steps 6 --save-steps 2"
                             " --lr-llm 1e-3 --lr-projector 1e-3 --lr-vision 1e-3";
  auto full = run_vl3(train_args(data, tmp.str("full")) + common);
  ASSERT_EQ(full.code, 0) << full.out;
  auto want = read_metrics(tmp.str("full"));
  ASSERT_EQ(want.size(), 6u);

  // Start, wait for checkpoint-2, kill -9.
  const std::string out = tmp.str("killed");
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + std::string(VL3_BINARY) + " " + train_args(data, out) + common + " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  bool seen = false;
  for (int i = 0; i < 6000 && !seen; ++i) {
    seen = fs::exists(out + "/checkpoint-2/trainer_state.json");
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(seen) << "no checkpoint-2 after 60 s";
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  EXPECT_LT(read_metrics(out).size(), 6u);

  auto resumed = run_vl3(train_args(data, out) + common + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resuming from"), std::string::npos) << resumed.out;
  auto got = read_metrics(out);
  ASSERT_EQ(got.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(got[i]["step"], want[i]["step"]);
    EXPECT_NEAR(got[i]["loss"].get<double>(), want[i]["loss"].get<double>(), 1e-6 * want[i]["loss"].get<double>())
        << "step " << i + 1;
  }
  // The final weights agree too.
  auto a = vl3::read_tensors(tmp.str("full") + "/model.safetensors");
  auto b = vl3::read_tensors(out + "/model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a) EXPECT_TRUE(torch::allclose(b.at(name), t, 1e-6, 1e-7)) << name;
}

// 2 processes with a global batch of 8 give the same weights after 3 steps as 1 process.
TEST(TrainCli, TwoProcessesEqualOne) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  std::string data = write_data(tmp, 8);
  const std::string common = " --stage 3 --global-batch-size 8 --micro-batch-size 2 --max-steps 3"
                             " --lr-llm 1e-3 --lr-projector 1e-3 --lr-vision 1e-3";
  auto one = run_vl3(train_args(data, tmp.str("one")) + common);
  ASSERT_EQ(one.code, 0) << one.out;
  auto two = run_vl3(train_args(data, tmp.str("two")) + common + " --nproc 2");
  ASSERT_EQ(two.code, 0) << two.out;
  auto a = vl3::read_tensors(tmp.str("one") + "/model.safetensors");
  auto b = vl3::read_tensors(tmp.str("two") + "/model.safetensors");
  auto init = vl3::read_tensors(vl3test::golden_model_dir() + "/model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  double moved = 0;
  for (auto& [name, t] : a) {
    EXPECT_LE((b.at(name) - t).abs().max().item<double>(), 1e-5) << name;
    moved = std::max(moved, (t - init.at(name)).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-3);  // training really changed the weights
  auto ma = read_metrics(tmp.str("one")), mb = read_metrics(tmp.str("two"));
  ASSERT_EQ(ma.size(), 3u);
  ASSERT_EQ(mb.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(ma[i]["loss"].get<double>(), mb[i]["loss"].get<double>(), 1e-5 * ma[i]["loss"].get<double>());
  // The summary counts the samples of all processes (3 steps of 8).
  EXPECT_NE(one.out.find("trained 3 steps (24 samples"), std::string::npos) << one.out;
  EXPECT_NE(two.out.find("trained 3 steps (24 samples"), std::string::npos) << two.out;
}

// A checkpoint loads in vl3 dump / vl3 run and reproduces the loss the trainer computed with it.
TEST(TrainCli, CheckpointReproducesTrainerLoss) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  std::string data = write_data(tmp, 1);
  auto r = run_vl3(train_args(data, tmp.str("out")) +
                   " --stage 3 --global-batch-size 1 --max-steps 2 --save-steps 1 --lr-llm 1e-3 --lr-vision 1e-3");
  ASSERT_EQ(r.code, 0) << r.out;
  auto m = read_metrics(tmp.str("out"));
  ASSERT_EQ(m.size(), 2u);
  // Step 2's loss was computed with the weights saved as checkpoint-1.
  std::string line = vl3test::read_file(data);
  std::ofstream(tmp.str("sample.json")) << line;
  auto d = run_vl3("dump -m " + tmp.str("out/checkpoint-1") + " --train-sample " + tmp.str("sample.json") +
                   " --stage 3 --media-root " + media() + " --out " + tmp.str("d.safetensors"));
  ASSERT_EQ(d.code, 0) << d.out;
  auto t = vl3::read_tensors(tmp.str("d.safetensors"));
  EXPECT_NEAR(t.at("loss").item<double>(), m[1]["loss"].get<double>(), 1e-5 * m[1]["loss"].get<double>());
  EXPECT_NE(t.at("loss").item<double>(), m[0]["loss"].get<double>());
  auto cfg = nlohmann::json::parse(vl3test::read_file(tmp.str("out/config.json")));
  EXPECT_EQ(cfg["model_type"], "videollama3_qwen2");  // official layout kept
  auto run = run_vl3("run -m " + tmp.str("out") + " -p hello --max-new-tokens 3");
  EXPECT_EQ(run.code, 0) << run.out;
}

// bf16 compute with fp32 masters, on an HF-native-layout checkpoint: trains, saves bf16 weights + fp32 masters in
// the HF-native layout, and the result loads and runs.
TEST(TrainCli, Bf16OnHfNativeLayout) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  auto mk = run_vl3("make-model --preset tiny --hf-layout --seed 3 " + tmp.str("hf"));
  ASSERT_EQ(mk.code, 0) << mk.out;
  std::string data = write_data(tmp, 4);
  auto r = run_vl3("train -m " + tmp.str("hf") + " --data " + data + " --media-root " + media() + " --out " +
                   tmp.str("out") + " --threads 1 --stage 4 --dtype bf16 --global-batch-size 2 --max-steps 2" +
                   " --lr-llm 1e-3 --lr-vision 1e-3 --lr-projector 1e-3 --gradient-checkpointing");
  ASSERT_EQ(r.code, 0) << r.out;
  auto cfg = nlohmann::json::parse(vl3test::read_file(tmp.str("out/config.json")));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  auto w = vl3::read_tensors(tmp.str("out/model.safetensors"));
  ASSERT_TRUE(w.count("model.language_model.embed_tokens.weight"));
  EXPECT_EQ(w.at("model.language_model.embed_tokens.weight").scalar_type(), torch::kBFloat16);
  auto opt = vl3::read_tensors(tmp.str("out/checkpoint-2/optimizer.safetensors"));
  ASSERT_TRUE(opt.count("master.model.language_model.embed_tokens.weight"));
  EXPECT_EQ(opt.at("master.model.language_model.embed_tokens.weight").scalar_type(), torch::kFloat32);
  for (const auto& m : read_metrics(tmp.str("out"))) EXPECT_TRUE(std::isfinite(m["loss"].get<double>()));
  auto run = run_vl3("run -m " + tmp.str("out") + " -p hello --max-new-tokens 2");
  EXPECT_EQ(run.code, 0) << run.out;
}
