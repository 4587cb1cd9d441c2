// vl3 bench --train: one training step (stage 3: everything trains) on a synthetic packed row — an image of
// P patches plus text — timed forward+backward+AdamW, with tokens/s, peak memory and the achieved FLOP/s
// against the matrix-multiply peak measured in the same run.
#include <chrono>
#include <cstdio>
#include <random>

#include "bench_train.h"
#include "model/videollama3.h"
#include "train/optimizer.h"
#include "train/stages.h"
#include "train/step.h"

namespace vl3cli {
namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// FLOPs of one training step: 3x the forward (forward + backward for activations and weights) of the
// matmuls and attention of the LLM over T tokens and the vision tower over P patches, plus the LM head at the
// supervised positions.
double train_step_flops(const vl3::VideoLlama3Config& c, int64_t T, int64_t P, int64_t supervised) {
  const double H = c.text.hidden_size, I = c.text.intermediate_size, L = c.text.num_hidden_layers;
  const double kv = double(c.text.num_key_value_heads) * c.text.head_dim();
  const double llm = L * (2.0 * T * (2 * H * H + 2 * H * kv + 3 * H * I) + 2.0 * double(T) * T * H);  // causal
  const double C = c.vision.hidden_size, CI = c.vision.intermediate_size, VL = c.vision.num_hidden_layers;
  const double vision = VL * (2.0 * P * (4 * C * C + 2 * C * CI) + 4.0 * double(P) * P * C) + 2.0 * P * 588 * C +
                        2.0 * P * (C * H + H * H);
  const double head = 2.0 * supervised * H * c.text.vocab_size;
  return 3.0 * (llm + vision + head);
}

}  // namespace

void bench_train(vl3::Model& model, const BenchTrainOptions& o, double matmul_peak) {
  auto& net = *model.net;
  vl3::TrainOptions topt;
  vl3::apply_stage_preset(topt, 3);
  vl3::AdamW opt(vl3::make_param_groups(net, topt));
  int64_t n_params = 0;
  for (const auto& g : opt.groups())
    for (const auto& [name, p] : g.params) n_params += p.numel();

  // A synthetic sample: one image of gh x gw patches, then text; the last quarter of the text supervised.
  const int64_t gh = std::max<int64_t>(1, int64_t(std::sqrt(double(o.patches)))), gw = o.patches / gh;
  vl3::TrainSample s;
  s.grids = {{1, gh, gw, 1, false}};
  s.pixel_values = torch::rand({gh * gw, 588}).mul_(2).sub_(1);
  s.keep = torch::ones({gh * gw}, torch::kBool);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> tok(0, 150000);
  const int64_t text = std::max<int64_t>(8, o.tokens - gh * gw);
  for (int64_t i = 0; i < gh * gw; ++i) s.ids.push_back(model.config.image_token_index);
  for (int64_t i = 0; i < text; ++i) s.ids.push_back(tok(rng));
  s.labels.assign(s.ids.size(), vl3::kIgnoreIndex);
  for (size_t i = s.ids.size() - size_t(text / 4); i < s.ids.size(); ++i) s.labels[i] = s.ids[i];

  std::printf("training step   stage 3 (all %.1f M parameters train), %s, 1 row of %zu tokens (%lld image patches)%s\n",
              n_params / 1e6, c10::toString(model.dtype), s.ids.size(), (long long)(gh * gw),
              o.checkpointing ? ", gradient checkpointing" : "");
  double best = 1e30, fwd = 0, bwd = 0, upd = 0;
  vl3::StepLoss last;
  for (int r = 0; r < o.reps; ++r) {
    const double t0 = now_s();
    opt.zero_grad();
    last = vl3::packed_loss(net, {&s}, o.checkpointing);
    const double t1 = now_s();
    (last.loss_sum / double(last.supervised)).backward();
    const double t2 = now_s();
    opt.step(1.0);
    const double t3 = now_s();
    if (t3 - t0 < best) {
      best = t3 - t0;
      fwd = t1 - t0;
      bwd = t2 - t1;
      upd = t3 - t2;
    }
  }
  const double flops = train_step_flops(model.config, last.tokens, gh * gw, last.supervised);
  std::printf("step            %.3f s (best of %d): %.1f tokens/s; forward %.3f s, backward %.3f s, AdamW %.3f s\n",
              best, o.reps, double(last.tokens) / best, fwd, bwd, upd);
  std::printf("compute         %.1f GFLOP per step -> %.1f GFLOP/s = %.1f %% of the %.1f GFLOP/s matmul peak\n",
              flops / 1e9, flops / best / 1e9, 100.0 * flops / best / matmul_peak, matmul_peak / 1e9);
}

}  // namespace vl3cli
