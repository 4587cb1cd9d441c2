// vl3 synth: writes a seeded synthetic world (training stages 1-4 and a held-out benchmark), see vl3/synth.h.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "vl3/synth.h"

namespace vl3cli {

void register_synth(CLI::App& app) {
  auto o = std::make_shared<vl3::SynthOptions>();
  auto* cmd = app.add_subcommand("synth", "Write a synthetic training world and benchmark (shapes, text, charts, videos)");
  cmd->add_option("--out", o->out_dir, "Output directory (media/, stage1-4.jsonl, bench.jsonl, README.md)")->required();
  cmd->add_option("--seed", o->seed, "Random seed (the same seed gives byte-identical files)");
  cmd->add_option("--scale", o->scale, "Multiplies every count (1: ~2000 images, 300 videos, 300 questions)")
      ->check(CLI::Range(1e-6, 1000.0));
  cmd->add_option("--threads", o->threads, "Rendering workers (0: up to 8; the output does not depend on it)");
  cmd->add_flag("--shape-drills", o->shape_drills,
                "Add records of shape questions (\"What is the red shape?\") to stage 1 (every scene) and stage 3 "
                "(every other scene)");
  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    const vl3::SynthSummary s = vl3::synthesize(*o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s: %lld training images, %lld training videos (%s), stage records %lld/%lld/%lld/%lld, "
                "%lld benchmark questions (%lld images, %lld videos), %.1f MB in %.1f s\n",
                o->out_dir.c_str(), (long long)s.train_images, (long long)s.train_videos, s.video_codec.c_str(),
                (long long)s.stage_records[0], (long long)s.stage_records[1], (long long)s.stage_records[2],
                (long long)s.stage_records[3], (long long)s.bench_items, (long long)s.bench_images,
                (long long)s.bench_videos, double(s.bytes) / 1e6, secs);
  });
}

}  // namespace vl3cli
