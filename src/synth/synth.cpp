// vl3::synthesize: renders the training and benchmark media (in parallel, each item from its own seed) and
// writes the four stage files, the benchmark and a README (see vl3/synth.h).
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "vl3/error.h"
#include "vl3/files.h"
#include "world.h"

namespace vl3 {
namespace synth {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// Seed streams: every item draws from derive_seed(seed, stream, index) alone.
enum Stream : uint64_t {
  kTrainImage = 1, kTrainVideo = 2, kTrainTextOnly = 3,
  kStageText = 10,  // + stage: the words of stage N's records
  kBench = 100,     // benchmark media and questions: a stream of their own
  kShuffle = 200,
};

enum class ImageKind { Scene, Text, Chart };
const char* kind_name(ImageKind k) { return k == ImageKind::Scene ? "scene" : k == ImageKind::Text ? "text" : "chart"; }
const char* event_name(Event e) {
  static const char* kNames[4] = {"move", "appear", "disappear", "color_change"};
  return kNames[int(e)];
}

struct ImageItem {
  ImageKind kind = ImageKind::Scene;
  SceneSpec scene;
  TextSpec text;
  ChartSpec chart;
  std::string path;  // relative to media/
  uint64_t hash = 0;
};

struct VideoItem {
  VideoSpec spec;
  std::string path;
  uint64_t hash = 0;
};

// Runs fn(0..n-1) on `threads` workers; the first exception is rethrown.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex m;
  auto work = [&] {
    for (int64_t i; (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

std::string pad6(int64_t i) {
  std::string s = std::to_string(i);
  return std::string(s.size() < 6 ? 6 - s.size() : 0, '0') + s;
}

int64_t scaled(double base, double scale) { return std::max<int64_t>(1, std::llround(base * scale)); }

Image render(const ImageItem& it) {
  switch (it.kind) {
    case ImageKind::Scene: return render_scene(it.scene);
    case ImageKind::Text: return render_text(it.text);
    case ImageKind::Chart: return render_chart(it.chart);
  }
  return {};
}

std::vector<Image> render_frames(const VideoSpec& v) {
  std::vector<Image> frames;
  for (int i = 0; i < video_frame_count(v); ++i) frames.push_back(render_video_frame(v, i));
  return frames;
}

uint64_t frames_hash(const std::vector<Image>& frames) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& f : frames) h = image_hash(f, h);
  return h;
}

// ------------------------------------------------------------------------------------------ records
using Turns = std::vector<std::pair<std::string, std::string>>;  // (human, gpt)

ojson record(const std::string& id, const char* media_key, const std::string& path, const Turns& turns) {
  ojson r;
  r["id"] = id;
  if (std::string(media_key) == "image") r["image"] = path;
  if (std::string(media_key) == "video") r["video"] = ojson::array({path});
  ojson conv = ojson::array();
  for (size_t i = 0; i < turns.size(); ++i) {
    std::string human = turns[i].first;
    if (i == 0 && *media_key) human = std::string("<") + media_key + ">\n" + human;
    conv.push_back({{"from", "human"}, {"value", human}});
    conv.push_back({{"from", "gpt"}, {"value", turns[i].second}});
  }
  r["conversations"] = conv;
  return r;
}

void add_qa(Turns& t, const std::optional<Qa>& q) {
  if (q) t.push_back({qa_prompt(*q), qa_reply(*q)});
}

// Up to `count` questions about an image, from its kind's tasks, some multiple-choice.
Turns image_questions(const ImageItem& it, int count, Rng& r) {
  Turns t;
  if (it.kind == ImageKind::Scene) {
    std::vector<std::string> tasks = {"color", "shape", "count", "position", "relation", "exists"};
    r.shuffle(tasks);
    for (const auto& task : tasks) {
      if (int(t.size()) >= count) break;
      add_qa(t, scene_qa(it.scene, task, r.chance(50), r));
    }
  } else if (it.kind == ImageKind::Text) {
    std::vector<std::string> tasks = {"reading", "color"};
    r.shuffle(tasks);
    for (int k = 0; k < std::min(count, 2); ++k) add_qa(t, text_qa(it.text, tasks[size_t(k)], r.chance(50), r));
  } else {
    for (int k = 0; k < count; ++k) add_qa(t, chart_qa(it.chart, r.chance(50), r));
  }
  return t;
}

std::vector<std::string> video_tasks(const VideoSpec& v) {
  switch (v.event) {
    case Event::Move: return {"motion", "event", "count"};
    case Event::ColourChange: return {"color_change", "event", "count"};
    default: return {"event", "count"};
  }
}

struct Plan {
  int64_t scenes, texts, charts, videos;
  int64_t text_only[5];  // per stage (index 1..4)
  int64_t stage4_image_every;
  int64_t bench;
};

const std::vector<std::string>& bench_tasks() {
  static const std::vector<std::string> kTasks = {"color",    "shape", "count", "position", "relation",    "reading",
                                                  "chart",    "motion", "temporal", "color_change", "event"};
  return kTasks;
}

void write_jsonl(const fs::path& path, const std::vector<ojson>& records) {
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  write_text_file(path.string(), text);
}

// Refuses to write into media folders that another program made; replaces a previous synth world.
void prepare_dir(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (!fs::is_directory(out)) throw Error(out.string() + ": cannot create the output directory");
  const fs::path media = out / "media";
  bool ours = false;
  {
    std::ifstream f(out / "README.md");
    std::string first;
    std::getline(f, first);
    ours = first.rfind("# vl3 synth", 0) == 0;
  }
  for (const char* sub : {"train", "bench"}) {
    const fs::path d = media / sub;
    if (fs::exists(d) && !fs::is_empty(d)) {
      if (!ours) throw Error(d.string() + ": exists and was not written by vl3 synth; choose an empty directory");
      fs::remove_all(d, ec);
      if (ec) throw Error(d.string() + ": cannot remove (" + ec.message() + ")");
    }
    for (const char* kind : {"img", "vid"}) fs::create_directories(d / kind);
  }
}

}  // namespace
}  // namespace synth

SynthSummary synthesize(const SynthOptions& opt) {
  using namespace synth;
  if (opt.out_dir.empty()) throw Error("synth: no output directory");
  if (!(opt.scale > 0) || opt.scale > 1000) throw Error("synth: --scale must be in (0, 1000]");
  const fs::path out(opt.out_dir), media = out / "media";
  prepare_dir(out);
  const int threads = opt.threads > 0 ? opt.threads : int(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  const double s = opt.scale;
  Plan plan{scaled(1400, s), scaled(300, s), scaled(300, s), scaled(300, s),
            {scaled(800, s), 0, scaled(400, s), scaled(300, s), scaled(150, s)}, 8, std::clamp<int64_t>(std::llround(300 * s), 11, 1100)};
  SynthSummary sum;
  sum.video_codec = video_codec();

  // ---- training media
  std::vector<ImageItem> images(size_t(plan.scenes + plan.texts + plan.charts));
  parallel_for(int64_t(images.size()), threads, [&](int64_t i) {
    Rng r(derive_seed(opt.seed, kTrainImage, uint64_t(i)));
    ImageItem& it = images[size_t(i)];
    it.kind = i < plan.scenes ? ImageKind::Scene : i < plan.scenes + plan.texts ? ImageKind::Text : ImageKind::Chart;
    if (it.kind == ImageKind::Scene) it.scene = random_scene(r);
    if (it.kind == ImageKind::Text) it.text = random_text(r);
    if (it.kind == ImageKind::Chart) it.chart = random_chart(r);
    it.path = "train/img/" + pad6(i) + ".png";
    const Image img = render(it);
    it.hash = image_hash(img);
    write_png((media / it.path).string(), img);
  });
  std::vector<VideoItem> videos(size_t(plan.videos));
  parallel_for(plan.videos, threads, [&](int64_t i) {
    Rng r(derive_seed(opt.seed, kTrainVideo, uint64_t(i)));
    VideoItem& v = videos[size_t(i)];
    v.spec = random_video(r, Event(i % 4));
    v.path = "train/vid/" + pad6(i) + ".mp4";
    const auto frames = render_frames(v.spec);
    v.hash = frames_hash(frames);
    write_mp4((media / v.path).string(), frames, v.spec.fps);
  });
  std::set<uint64_t> train_hashes;
  for (const auto& it : images) train_hashes.insert(it.hash), ++sum.train_image_kinds[kind_name(it.kind)];
  for (const auto& v : videos) train_hashes.insert(v.hash), ++sum.train_video_kinds[event_name(v.spec.event)];
  sum.train_images = int64_t(images.size());
  sum.train_videos = int64_t(videos.size());

  // ---- stage files
  std::vector<ojson> stages[5];
  auto text_only = [&](int stage, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      Rng r(derive_seed(opt.seed, kTrainTextOnly, uint64_t(stage) * 1000000007ull + uint64_t(i)));
      const Qa q = text_only_qa(r);
      stages[stage].push_back(record("s" + std::to_string(stage) + "-text-" + pad6(i), "", "", {{qa_prompt(q), qa_reply(q)}}));
    }
  };
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageItem& it = images[i];
    const std::string id = "-img-" + pad6(int64_t(i));
    // Stage 1: short captions.
    Rng r1(derive_seed(opt.seed, kStageText + 1, i));
    static const std::vector<std::string> kShortPrompts = {"Describe the image briefly.", "Write a short caption.",
                                                          "What is in the image?"};
    const std::string short_cap = it.kind == ImageKind::Scene  ? scene_short(it.scene)
                                  : it.kind == ImageKind::Text ? text_short(it.text)
                                                               : chart_short(it.chart);
    stages[1].push_back(record("s1" + id, "image", it.path, {{r1.pick(kShortPrompts), short_cap}}));
    // Stages 1 and 3, with --shape-drills: shape questions, a record of their own (no other answer in context
    // to read the shape from); stage 1 asks about every scene, stage 3 about every other one. Captions and
    // mixed questions alone leave the tower keeping colour and dropping shape (docs/small-model.md).
    Turns drills;
    if (opt.shape_drills && it.kind == ImageKind::Scene)
      for (const Qa& q : scene_shape_questions(it.scene)) drills.push_back({qa_prompt(q), qa_reply(q)});
    if (!drills.empty()) {
      stages[1].push_back(record("s1" + id + "-shape", "image", it.path, drills));
      if (i % 2 == 0) stages[3].push_back(record("s3" + id + "-shape", "image", it.path, drills));
    }
    // Stage 0 (language only, standing in for the pretrained Qwen2.5): the detailed caption given as text,
    // then questions about it, so the LLM learns the words and to answer from a description.
    Rng r0(derive_seed(opt.seed, kStageText + 0, i));
    const std::string detail = it.kind == ImageKind::Scene  ? scene_detail(it.scene)
                               : it.kind == ImageKind::Text ? text_detail(it.text)
                                                            : chart_detail(it.chart);
    Turns t0 = image_questions(it, 6, r0);
    if (!t0.empty()) {
      t0[0].first = "Image description: " + detail + "\n" + t0[0].first;
      stages[0].push_back(record("s0" + id, "", "", t0));
    }
    // Stage 2: detailed captions, reading, charts.
    Rng r2(derive_seed(opt.seed, kStageText + 2, i));
    Turns t2;
    if (it.kind == ImageKind::Scene) {
      t2.push_back({r2.chance(50) ? "Describe the image in detail." : "Give a detailed description of the image.",
                    scene_detail(it.scene)});
    } else if (it.kind == ImageKind::Text) {
      add_qa(t2, text_qa(it.text, "reading", false, r2));
      t2.push_back({"Describe the image in detail.", text_detail(it.text)});
    } else {
      t2.push_back({"Describe the chart in detail.", chart_detail(it.chart)});
    }
    stages[2].push_back(record("s2" + id, "image", it.path, t2));
    // Stage 3: 3-6 questions, some multiple-choice.
    Rng r3(derive_seed(opt.seed, kStageText + 3, i));
    stages[3].push_back(record("s3" + id, "image", it.path, image_questions(it, r3.range(3, 6), r3)));
    // Stage 4: an eighth of the images, 1-2 questions.
    if (int64_t(i) % plan.stage4_image_every == 0) {
      Rng r4(derive_seed(opt.seed, kStageText + 4, i));
      stages[4].push_back(record("s4" + id, "image", it.path, image_questions(it, r4.range(1, 2), r4)));
    }
  }
  for (size_t i = 0; i < videos.size(); ++i) {
    const VideoSpec& v = videos[i].spec;
    const std::string id = "-vid-" + pad6(int64_t(i)), path = videos[i].path;
    // Stage 0: the video's detailed caption as text, then a question about it and one about when.
    {
      Rng r0(derive_seed(opt.seed, kStageText + 0, 1000000000ull + i));
      auto tasks0 = video_tasks(v);
      Turns t0;
      add_qa(t0, video_qa(v, r0.pick(tasks0), r0.chance(50), r0));
      add_qa(t0, video_qa(v, "temporal", false, r0));
      if (!t0.empty()) {
        t0[0].first = "Video description: " + video_detail(v) + "\n" + t0[0].first;
        stages[0].push_back(record("s0" + id, "", "", t0));
      }
    }
    // Stage 2: a third of the videos with a detailed caption.
    if (i % 3 == 0) stages[2].push_back(record("s2" + id, "video", path, {{"Describe the video in detail.", video_detail(v)}}));
    // Stage 3: 1-2 questions about what is seen, sometimes one about when.
    Rng r3(derive_seed(opt.seed, kStageText + 3, 1000000000ull + i));
    auto tasks = video_tasks(v);
    r3.shuffle(tasks);
    Turns t3;
    for (int k = 0, n = r3.range(1, 2); k < n; ++k) add_qa(t3, video_qa(v, tasks[size_t(k)], r3.chance(50), r3));
    if (r3.chance(30)) add_qa(t3, video_qa(v, "temporal", false, r3));
    stages[3].push_back(record("s3" + id, "video", path, t3));
    // Stage 4: temporal grounding (when / what happens at), and a caption with one more question.
    Rng r4(derive_seed(opt.seed, kStageText + 4, 1000000000ull + i));
    Turns a, b;
    const auto when = video_qa(v, "temporal", false, r4);
    add_qa(a, when);
    add_qa(a, video_qa(v, "event", false, r4));
    if (v.event == Event::Move) {  // the other end of the motion
      std::optional<Qa> other;
      while (!other || other->question == when->question) other = video_qa(v, "temporal", false, r4);
      add_qa(a, other);
    }
    stages[4].push_back(record("s4" + id + "-a", "video", path, a));
    b.push_back({r4.chance(50) ? "Describe the video in detail." : "What happens in the video? Describe it in detail.",
                 video_detail(v)});
    add_qa(b, video_qa(v, r4.pick(tasks), r4.chance(50), r4));
    stages[4].push_back(record("s4" + id + "-b", "video", path, b));
  }
  text_only(0, plan.text_only[0]);
  for (int st = 2; st <= 4; ++st) text_only(st, plan.text_only[st]);
  for (int st = 0; st <= 4; ++st) {  // stage 0: language pretraining, not one of the paper's four stages
    Rng r(derive_seed(opt.seed, kShuffle, uint64_t(st)));
    r.shuffle(stages[st]);
    write_jsonl(out / ("stage" + std::to_string(st) + ".jsonl"), stages[st]);
    (st == 0 ? sum.stage0_records : sum.stage_records[st - 1]) = int64_t(stages[st].size());
  }

  // ---- benchmark: one new medium per question, from its own seed stream, never equal to a training one
  const auto& tasks = bench_tasks();
  std::vector<ojson> bench(size_t(plan.bench));
  std::vector<char> bench_is_video(size_t(plan.bench), 0);
  parallel_for(plan.bench, threads, [&](int64_t g) {
    const std::string& task = tasks[size_t(g) % tasks.size()];
    Rng r(derive_seed(opt.seed, kBench, uint64_t(g)));
    const bool video_task = task == "motion" || task == "temporal" || task == "color_change" || task == "event";
    const std::string rel = std::string("bench/") + (video_task ? "vid/" : "img/") + pad6(g) + (video_task ? ".mp4" : ".png");
    std::optional<Qa> q;
    for (int attempt = 0; attempt < 1000 && !q; ++attempt) {
      if (video_task) {
        const Event ev = task == "motion" ? Event::Move : task == "color_change" ? Event::ColourChange : Event(r.below(4));
        const VideoSpec v = random_video(r, ev);
        const int mcq_percent = task == "temporal" ? 0 : 50;
        q = video_qa(v, task, r.chance(mcq_percent), r);
        if (!q) continue;
        const auto frames = render_frames(v);
        if (train_hashes.count(frames_hash(frames))) { q.reset(); continue; }
        write_mp4((media / rel).string(), frames, v.fps);
      } else {
        ImageItem it;
        it.kind = task == "reading" ? ImageKind::Text : task == "chart" ? ImageKind::Chart : ImageKind::Scene;
        if (it.kind == ImageKind::Scene) it.scene = random_scene(r);
        if (it.kind == ImageKind::Text) it.text = random_text(r);
        if (it.kind == ImageKind::Chart) it.chart = random_chart(r);
        const int mcq_percent = task == "reading" ? 0 : task == "shape" ? 70 : task == "chart" || task == "count" ? 30 : 50;
        const bool mcq = r.chance(mcq_percent);
        q = it.kind == ImageKind::Scene  ? scene_qa(it.scene, task, mcq, r)
            : it.kind == ImageKind::Text ? text_qa(it.text, task, mcq, r)
                                         : chart_qa(it.chart, mcq, r);
        if (!q) continue;
        const Image img = render(it);
        if (train_hashes.count(image_hash(img))) { q.reset(); continue; }
        write_png((media / rel).string(), img);
      }
    }
    if (!q) throw Error("synth: could not make a benchmark question for task " + task);
    ojson b;
    b["id"] = task + "-" + pad6(g);
    b["task"] = task;
    b[video_task ? "video" : "image"] = rel;
    b["question"] = q->question;
    if (!q->options.empty()) {
      b["options"] = q->options;
      b["answer"] = std::string(1, char('A' + q->answer_index));
    } else {
      b["answer"] = q->bench_answer;
      if (q->tolerance > 0) b["tolerance"] = q->tolerance;
    }
    bench[size_t(g)] = b;
    bench_is_video[size_t(g)] = video_task;
  });
  write_jsonl(out / "bench.jsonl", bench);
  for (size_t g = 0; g < bench.size(); ++g) {
    ++sum.bench_tasks[bench[g]["task"].get<std::string>()];
    ++(bench_is_video[g] ? sum.bench_videos : sum.bench_images);
  }
  sum.bench_items = int64_t(bench.size());

  // ---- README (deterministic: counts and sizes only)
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file() && e.path().filename() != "README.md") bytes += int64_t(e.file_size());
  // "2600 (2000 / 300 / 300)": records of a stage file by kind.
  auto mix = [&](int st) {
    int64_t im = 0, vi = 0, tx = 0;
    for (const auto& r : stages[st]) (r.contains("image") ? im : r.contains("video") ? vi : tx) += 1;
    return std::to_string(stages[st].size()) + " (" + std::to_string(im) + " / " + std::to_string(vi) + " / " +
           std::to_string(tx) + ")";
  };
  int64_t bench_mcq = 0;
  for (const auto& b : bench) bench_mcq += b.contains("options");
  std::ostringstream md;
  md << "# vl3 synth world\n\n"
     << "Generated by `vl3 synth --out DIR --seed " << opt.seed << " --scale " << opt.scale
     << "`. The same seed and scale give byte-identical files.\n\n"
     << "## Files\n\n"
     << "| file | records (image / video / text-only) | contents |\n|---|---|---|\n"
     << "| stage0.jsonl | " << mix(0) << " | language only: each training medium's detailed caption as text, with "
     << "questions about it, and " << plan.text_only[0] << " text-only questions (for an LLM trained from scratch) |\n"
     << "| stage1.jsonl | " << mix(1) << " | short captions of every training image (scenes, text, charts)"
     << (opt.shape_drills ? ", and a record of shape questions (\"What is the red shape?\") for every scene" : "") << " |\n"
     << "| stage2.jsonl | " << mix(2) << " | detailed captions, reading, chart descriptions, video captions, "
     << plan.text_only[2] << " text-only |\n"
     << "| stage3.jsonl | " << mix(3) << " | image questions (open and multiple-choice), video questions, "
     << (opt.shape_drills ? "shape questions for every other scene, " : "") << plan.text_only[3] << " text-only |\n"
     << "| stage4.jsonl | " << mix(4) << " | video: motion, appear/disappear, colour change, temporal "
     << "grounding; some image questions; " << plan.text_only[4] << " text-only |\n"
     << "| bench.jsonl | " << sum.bench_items << " | held-out questions, one new medium each (vl3 eval format) |\n\n"
     << "Media: `media/train/img` " << sum.train_images << " PNG (" << sum.train_image_kinds["scene"] << " scenes, "
     << sum.train_image_kinds["text"] << " text, " << sum.train_image_kinds["chart"] << " charts), `media/train/vid` "
     << sum.train_videos << " MP4 (" << sum.video_codec << ", 4 fps, 4-10 s; ";
  for (const char* e : {"move", "appear", "disappear", "color_change"})
    md << sum.train_video_kinds[e] << " " << e << (std::string(e) == "color_change" ? "" : ", ");
  md << "), `media/bench` " << sum.bench_images << " PNG and " << sum.bench_videos
     << " MP4 from a separate seed stream, never referenced by the stage files.\n\n"
     << "Benchmark questions per task: ";
  for (auto it = sum.bench_tasks.begin(); it != sum.bench_tasks.end(); ++it)
    md << (it == sum.bench_tasks.begin() ? "" : ", ") << it->first << " " << it->second;
  md << " (multiple-choice: " << bench_mcq << ", open: " << sum.bench_items - bench_mcq << ").\nTemporal answers are exact whole seconds (no tolerance). Total size (without this file): " << bytes
     << " bytes.\n\n"
     << "## Use\n\n```sh\n"
     << "vl3 train --stage 1 -m MODEL --data DIR/stage1.jsonl --media-root DIR/media --out OUT1\n"
     << "vl3 eval -m OUT4 --bench DIR/bench.jsonl --media-root DIR/media --report report.json\n```\n\n"
     << "## Timing convention\n\n"
     << "An event at second t is visible from time t on. vl3 samples 1 fps (fps filter, round=down): the frame "
        "labelled `Time t.0s` shows time t + 0.75, so the first sampled frame that shows the event is labelled t, "
        "and the answer is \"At t seconds.\". Static stretches are identical frames (frame pruning removes them).\n";
  write_text_file((out / "README.md").string(), md.str());
  sum.bytes = bytes + int64_t(md.str().size());
  return sum;
}

}  // namespace vl3
