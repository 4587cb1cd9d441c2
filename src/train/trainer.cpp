// vl3::train: the training loop. Per optimizer step (global batch G samples over W processes):
//   the loader thread prepares this rank's G/W samples (strided over the step's slice of a seeded
//   permutation) -> packed rows of micro_batch_size samples -> loss_sum / (supervised labels of the whole
//   global batch) -> backward per row (gradient accumulation) -> all-reduce (sum) of gradients -> clip ->
//   AdamW with the cosine schedule -> metrics line; checkpoints every save_steps and at the end.
// The sum-over-the-global-batch normalisation (transformers' num_items_in_batch) makes the update
// independent of how samples are split into rows and processes.
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "model/videollama3.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/distributed.h"
#include "train/stages.h"
#include "train/step.h"
#include "vl3/error.h"
#include "vl3/model.h"
#include "vl3/train.h"

namespace vl3 {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The samples of one step on this rank (bad ones already dropped and reported).
struct StepBatch {
  int64_t step = 0;
  std::vector<TrainSample> samples;
  std::vector<DatasetProblem> skipped;
  std::string fatal;  // strict mode: the error that stops training
};

// Deterministic permutation (Fisher-Yates over mt19937_64, the same on every platform and rank).
std::vector<size_t> permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    size_t j = size_t(rng() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

// Record indices of global step `step` that belong to `rank`: the step's slice of its epoch's permutation,
// strided over ranks. The permutation is computed once per epoch (`perm` caches the last one).
std::vector<size_t> step_indices(int64_t step, size_t n, int64_t steps_per_epoch, int global_batch, uint64_t seed,
                                 int rank, int world, std::pair<int64_t, std::vector<size_t>>& perm) {
  const int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
  if (perm.second.empty() || perm.first != epoch) perm = {epoch, permutation(n, seed + uint64_t(epoch))};
  std::vector<size_t> out;
  const size_t begin = size_t(in_epoch) * size_t(global_batch);
  const size_t end = std::min(n, begin + size_t(global_batch));
  for (size_t i = begin; i < end; ++i)
    if (int((i - begin) % size_t(world)) == rank) out.push_back(perm.second[i]);
  return out;
}

torch::Dtype parse_train_dtype(const std::string& s) {
  if (s == "f32" || s == "fp32" || s == "float32") return torch::kFloat32;
  if (s == "bf16" || s == "bfloat16") return torch::kBFloat16;
  throw Error("training dtype must be f32 or bf16 (got \"" + s + "\")");
}

void truncate_metrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("step", int64_t(0)) <= last_step) kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept;
}

}  // namespace

TrainSummary train(const TrainOptions& opt, const std::function<void(const TrainProgress&)>& on_step,
                   const std::function<void(const TrainEvent&)>& on_event) {
  auto info = [&](const std::string& s) {
    if (on_event) on_event({TrainEvent::Kind::Info, s});
  };
  if (opt.out_dir.empty()) throw Error("training needs an output directory (--out)");
  if (opt.data.empty()) throw Error("training needs at least one annotation file (--data)");
  if (opt.global_batch_size < 1 || opt.micro_batch_size < 1)
    throw Error("--global-batch-size and --micro-batch-size must be at least 1");
  auto dist = Distributed::from_env();
  const int rank = dist->rank(), world = dist->world_size();
  if (opt.global_batch_size % world)
    throw Error("--global-batch-size " + std::to_string(opt.global_batch_size) + " is not divisible by the " +
                std::to_string(world) + " processes");
  const auto dtype = parse_train_dtype(opt.dtype);
  TrainSummary summary;
  summary.rank = rank;
  summary.world_size = world;

  // Data.
  DatasetOptions dopt;
  dopt.media_root = opt.media_root;
  dopt.strict = opt.strict;
  auto dataset = load_dataset(opt.data, dopt);
  for (const auto& p : dataset.skipped)
    if (on_event && rank == 0) on_event({TrainEvent::Kind::SkippedRecord, p.origin + ": " + p.what});
  summary.skipped = int64_t(dataset.skipped.size());  // records unusable at load time (reported again on resume)
  int64_t skipped_samples = 0;                        // records that failed while preparing a step
  const size_t n = dataset.records.size();
  if (n == 0) throw Error("no usable training record in the data");
  const int64_t steps_per_epoch = int64_t((n + size_t(opt.global_batch_size) - 1) / size_t(opt.global_batch_size));
  const int64_t total_steps = opt.max_steps > 0 ? opt.max_steps : steps_per_epoch * std::max(1, opt.epochs);
  const int64_t warmup = warmup_steps_for(total_steps, opt.warmup_ratio);
  lr_scale(opt.lr_scheduler_type, 0, total_steps, warmup);  // an unknown schedule name fails before any work

  // Model: from the newest checkpoint when resuming, else from --model.
  fs::create_directories(opt.out_dir);
  std::string start_dir = opt.model_dir;
  nlohmann::json resume_state;
  if (opt.resume) {
    if (auto last = latest_checkpoint(opt.out_dir)) {
      start_dir = *last;
      resume_state = read_trainer_state(*last);
      info("resuming from " + *last);
    } else {
      info("--resume: no checkpoint in " + opt.out_dir + ", starting fresh");
    }
  }
  if (start_dir.empty()) throw Error("training needs a model (--model)");
  LoadOptions lopt;
  lopt.dtype = dtype;
  auto model = Model::load(start_dir, lopt);
  auto& net = *model->net;
  net.train();
  AdamW optimizer(make_param_groups(net, opt));
  std::vector<torch::Tensor> trainable;
  for (const auto& g : optimizer.groups())
    for (const auto& [name, p] : g.params) trainable.push_back(p);
  int64_t start_step = 0;
  if (!resume_state.is_null()) {
    start_step = resume_state.at("global_step").get<int64_t>();
    optimizer.load_state_tensors(read_optimizer_state(start_dir), resume_state.at("optimizer_steps").get<int64_t>());
    skipped_samples = resume_state.value("skipped_samples", int64_t(0));
    summary.skipped += skipped_samples;
  } else {
    dist->broadcast(trainable);  // every rank starts from rank 0's weights
  }
  summary.start_step = start_step;
  const std::string metrics_path = (fs::path(opt.out_dir) / "metrics.jsonl").string();
  if (rank == 0) truncate_metrics(metrics_path, start_step);
  info("training " + std::to_string(n) + " records, " + std::to_string(total_steps) + " steps of " +
       std::to_string(opt.global_batch_size) + " samples on " + std::to_string(world) + " process(es), stage " +
       std::to_string(opt.stage));

  // Loader thread: prepares the samples of the coming steps (bounded queue: runs at most `prefetch` ahead).
  auto sopt = sample_options(opt);
  if (!model->config.use_token_compression) sopt.prune = false;
  BoundedQueue<StepBatch> queue(size_t(std::max(1, opt.prefetch)));
  std::thread loader([&] {
    std::pair<int64_t, std::vector<size_t>> perm;  // (epoch, its permutation)
    for (int64_t s = start_step; s < total_steps; ++s) {
      StepBatch b;
      b.step = s;
      for (size_t idx : step_indices(s, n, steps_per_epoch, opt.global_batch_size, opt.seed, rank, world, perm)) {
        const auto& rec = dataset.records[idx];
        try {
          b.samples.push_back(prepare_train_sample(*model, rec.messages, sopt));
          b.samples.back().origin = rec.origin;
        } catch (const std::exception& e) {
          if (opt.strict) {
            b.fatal = rec.origin + ": " + e.what();
            break;
          }
          b.skipped.push_back({rec.origin, e.what()});
        }
      }
      const bool stop = !b.fatal.empty();
      if (!queue.push(std::move(b)) || stop) break;
    }
    queue.close();
  });
  struct JoinGuard {
    BoundedQueue<StepBatch>& q;
    std::thread& t;
    ~JoinGuard() {
      q.close();
      if (t.joinable()) t.join();
    }
  } join_guard{queue, loader};

  std::ofstream metrics;
  if (rank == 0) metrics.open(metrics_path, std::ios::app);
  const auto t_start = Clock::now();
  int64_t steps_done = 0;
  for (int64_t s = start_step; s < total_steps; ++s) {
    auto t0 = Clock::now();
    auto batch = queue.pop();
    if (!batch) throw Error("the data loader stopped early");
    if (!batch->fatal.empty()) throw Error(batch->fatal);
    for (const auto& p : batch->skipped) {
      ++summary.skipped;
      ++skipped_samples;
      if (on_event) on_event({TrainEvent::Kind::SkippedRecord, p.origin + ": " + p.what});
    }
    // Supervised labels of the whole global batch (packing ignores each sample's first label).
    double local_sup = 0;
    for (const auto& smp : batch->samples)
      local_sup += double(smp.num_supervised - (smp.labels.empty() || smp.labels[0] == kIgnoreIndex ? 0 : 1));
    const double global_sup = dist->allreduce_sum(local_sup);
    // Forward/backward per packed row; gradients accumulate.
    optimizer.zero_grad();
    double loss_sum = 0, tokens = 0;
    for (size_t r = 0; r < batch->samples.size(); r += size_t(opt.micro_batch_size)) {
      std::vector<const TrainSample*> row;
      for (size_t i = r; i < std::min(batch->samples.size(), r + size_t(opt.micro_batch_size)); ++i)
        row.push_back(&batch->samples[i]);
      auto out = packed_loss(net, row, opt.gradient_checkpointing);
      tokens += double(out.tokens);
      if (out.supervised == 0 || global_sup == 0) continue;
      loss_sum += out.loss_sum.item<double>();
      auto loss = out.loss_sum / global_sup;
      if (loss.requires_grad()) loss.backward();
    }
    for (auto& p : trainable)
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    {
      std::vector<torch::Tensor> grads;
      for (auto& p : trainable) grads.push_back(p.grad());
      dist->allreduce_sum(grads);
    }
    const double total_loss = dist->allreduce_sum(loss_sum);
    const double total_tokens = dist->allreduce_sum(tokens);
    const double total_samples = dist->allreduce_sum(double(batch->samples.size()));  // all ranks' samples
    const double grad_norm = opt.max_grad_norm > 0 ? clip_grad_norm(trainable, opt.max_grad_norm) : 0.0;
    const double lr_scale = vl3::lr_scale(opt.lr_scheduler_type, s, total_steps, warmup);
    optimizer.step(lr_scale);
    optimizer.zero_grad();
    ++steps_done;

    TrainProgress pr;
    pr.step = s + 1;
    pr.total_steps = total_steps;
    pr.loss = global_sup > 0 ? total_loss / global_sup : 0.0;
    pr.lr = optimizer.groups().front().lr * lr_scale;
    pr.grad_norm = grad_norm;
    pr.tokens = int64_t(total_tokens);
    pr.supervised = int64_t(global_sup);
    pr.step_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    pr.tokens_per_second = pr.step_seconds > 0 ? total_tokens / pr.step_seconds : 0;
    pr.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
    pr.eta_seconds = pr.elapsed_seconds / double(steps_done) * double(total_steps - s - 1);
    pr.skipped = summary.skipped;
    summary.tokens += pr.tokens;
    summary.samples += int64_t(total_samples);
    summary.final_loss = pr.loss;

    // The metrics line goes out before the checkpoint: a checkpoint of step N implies line N is in the file
    // (a resume drops the lines after its checkpoint, so the file stays one clean curve).
    if (rank == 0) {
      nlohmann::json m = {{"step", pr.step},           {"loss", pr.loss},
                          {"lr", pr.lr},               {"grad_norm", pr.grad_norm},
                          {"tokens", pr.tokens},       {"supervised", pr.supervised},
                          {"tokens_per_s", pr.tokens_per_second}, {"step_s", pr.step_seconds},
                          {"elapsed_s", pr.elapsed_seconds},      {"skipped", pr.skipped}};
      metrics << m.dump() << "\n" << std::flush;
    }
    const bool last = s + 1 == total_steps;
    if ((opt.save_steps > 0 && (s + 1) % opt.save_steps == 0) || last) {
      nlohmann::json state = {{"global_step", s + 1},      {"total_steps", total_steps},
                              {"epoch", double(s + 1) / double(steps_per_epoch)},
                              {"seed", opt.seed},          {"world_size", world},
                              {"global_batch_size", opt.global_batch_size},
                              {"stage", opt.stage},        {"skipped_samples", skipped_samples},
                              {"loss", pr.loss},           {"data_position", (s + 1) * opt.global_batch_size}};
      if (rank == 0) {
        write_checkpoint(*model, &optimizer, state, opt.out_dir, "checkpoint-" + std::to_string(s + 1), dtype);
        if (opt.save_total_limit > 0) prune_checkpoints(opt.out_dir, opt.save_total_limit);
      }
      dist->barrier();
      pr.checkpoint_written = true;
    }
    if (on_step) on_step(pr);
  }
  // The final model (no optimizer state) in OUT itself: `vl3 run -m OUT` uses it. Also written when a resume
  // found the last checkpoint already complete (a kill may have hit the previous final write).
  if (rank == 0) write_model_dir(*model, opt.out_dir, dtype);
  dist->barrier();
  summary.steps = total_steps;
  summary.final_dir = opt.out_dir;
  summary.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return summary;
}

}  // namespace vl3
