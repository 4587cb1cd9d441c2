// vl3 synth end to end, on a small world (--scale 0.02): determinism (in-process and through the CLI, with
// different thread counts; --shape-drills changes only stages 1 and 3), the annotation files load with vl3::load_dataset and the benchmark with
// vl3::load_benchmark, bench media are disjoint from training media, and the answers agree with the pixels
// (shapes counted and classified from the images, text read back with the font, bars measured, video events
// found at the stated second).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "cli_util.h"
#include "synth_check.h"
#include "test_util.h"
#include "train/data.h"
#include "vl3/eval.h"
#include "vl3/synth.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace vl3::synth;
using namespace synthcheck;

namespace {

constexpr double kScale = 0.02;

// VL3_SYNTH_TEST_SCALE=1 runs the content checks on a full-size world (the exact counts are then skipped).
double test_scale() {
  const char* e = std::getenv("VL3_SYNTH_TEST_SCALE");
  return e ? std::atof(e) : kScale;
}
#define SKIP_IF_RESCALED() \
  if (test_scale() != kScale) GTEST_SKIP() << "exact counts are for --scale 0.02"

// The world every test reads, generated once (seed 7, 2 threads, with the shape drills of --shape-drills;
// SameSeedSameBytesThroughTheCli checks the world without them).
struct World {
  vl3test::TempDir tmp;
  vl3::SynthSummary sum;
  World() {
    vl3::SynthOptions o;
    o.out_dir = tmp.str("w");
    o.seed = 7;
    o.scale = test_scale();
    o.threads = 2;
    o.shape_drills = true;
    sum = vl3::synthesize(o);
  }
  std::string dir() const { return tmp.str("w"); }
  std::string media() const { return tmp.str("w/media"); }
};
const World& world() {
  static World w;
  return w;
}

std::map<std::string, std::string> all_files(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = vl3test::read_file(e.path().string());
  return out;
}

std::string first_human(const json& rec) {
  std::string v = rec["conversations"][0]["value"];
  const size_t nl = v.find(">\n");
  return v.rfind("<", 0) == 0 && nl != std::string::npos ? v.substr(nl + 2) : v;
}

}  // namespace

TEST(Synth, SameSeedSameBytesThroughTheCli) {
  SKIP_IF_RESCALED();
  const World& w = world();
  vl3test::TempDir tmp;
  const std::string args = "synth --out " + tmp.str("cli") + " --seed 7 --scale 0.02 --threads 1 --shape-drills";
  const vl3test::CliResult r = vl3test::run_vl3(args);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("training images"), std::string::npos) << r.out;
  const auto a = all_files(w.dir()), b = all_files(tmp.str("cli"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(b.at(name) == bytes) << name << " differs";
  }
  // Running again into the same directory replaces the world with the same bytes.
  ASSERT_EQ(vl3test::run_vl3(args).code, 0);
  EXPECT_TRUE(all_files(tmp.str("cli")) == a);
  // A directory with media that vl3 synth did not write is refused.
  fs::create_directories(tmp.str("foreign/media/train"));
  std::ofstream(tmp.str("foreign/media/train/keep.txt")) << "x";
  const vl3test::CliResult bad = vl3test::run_vl3("synth --out " + tmp.str("foreign") + " --scale 0.01");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("not written by vl3 synth"), std::string::npos) << bad.out;
  EXPECT_TRUE(fs::exists(tmp.str("foreign/media/train/keep.txt")));
  // Another seed, another world.
  vl3::SynthOptions o;
  o.out_dir = tmp.str("other");
  o.seed = 8;
  o.scale = kScale;
  vl3::synthesize(o);
  EXPECT_NE(vl3test::read_file(tmp.str("other/stage1.jsonl")), a.at("stage1.jsonl"));
  // The same seed without shape drills: the same benchmark, media and stages 0, 2 and 4; stages 1 and 3 lack
  // exactly the shape-question records.
  o.out_dir = tmp.str("plain");
  o.seed = 7;
  vl3::synthesize(o);
  const auto p = all_files(tmp.str("plain"));
  ASSERT_EQ(p.size(), a.size());
  for (const auto& [name, bytes] : a) {
    if (name == "stage1.jsonl" || name == "stage3.jsonl" || name == "README.md") continue;
    EXPECT_TRUE(p.at(name) == bytes) << name << " depends on --shape-drills";
  }
  for (const char* f : {"stage1.jsonl", "stage3.jsonl"}) {
    // (The records are shuffled after they are made, so compare them as sets of lines.)
    auto lines_of = [](const std::string& text, bool drop_shape) {
      std::multiset<std::string> out;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);)
        if (!drop_shape || json::parse(line).at("id").get<std::string>().find("-shape") == std::string::npos) out.insert(line);
      return out;
    };
    const auto with = lines_of(a.at(f), true), without = lines_of(p.at(f), false);
    EXPECT_LT(with.size(), lines_of(a.at(f), false).size()) << f;
    EXPECT_TRUE(with == without) << f;
  }
}

TEST(Synth, CountsAndLayout) {
  SKIP_IF_RESCALED();
  const World& w = world();
  EXPECT_EQ(w.sum.train_images, 28 + 6 + 6);
  EXPECT_EQ(w.sum.train_videos, 6);
  EXPECT_EQ(w.sum.bench_items, 11);  // at least one question per task
  EXPECT_EQ(w.sum.bench_tasks.size(), 11u);
  EXPECT_EQ(w.sum.bench_images + w.sum.bench_videos, 11);
  for (int s = 1; s <= 4; ++s)
    EXPECT_EQ(int64_t(read_jsonl(w.dir() + "/stage" + std::to_string(s) + ".jsonl").size()), w.sum.stage_records[s - 1]);
  EXPECT_EQ(w.sum.stage_records[0], 40 + 27);  // a short caption per image, shape questions for 27 of the 28 scenes
  EXPECT_TRUE(fs::exists(w.dir() + "/README.md"));
  EXPECT_NE(vl3test::read_file(w.dir() + "/README.md").find("stage4.jsonl"), std::string::npos);
  EXPECT_GT(w.sum.bytes, 10000);
}

TEST(Synth, StageFilesLoadAsTrainingData) {
  const World& w = world();
  vl3::DatasetOptions o;
  o.media_root = w.media();
  o.strict = true;
  for (int s = 1; s <= 4; ++s) {
    const std::string f = w.dir() + "/stage" + std::to_string(s) + ".jsonl";
    const vl3::Dataset ds = vl3::load_dataset({f}, o);
    EXPECT_EQ(int64_t(ds.records.size()), w.sum.stage_records[s - 1]) << f;
    EXPECT_TRUE(ds.skipped.empty()) << f;
    size_t videos = 0, text_only = 0;
    for (const auto& r : ds.records) {
      bool has_video = false, has_media = false;
      for (const auto& m : r.messages)
        for (const auto& p : m.content) {
          has_video |= p.type == vl3::ContentPart::Type::Video;
          has_media |= p.type != vl3::ContentPart::Type::Text;
        }
      videos += has_video, text_only += !has_media;
    }
    if (s == 1) EXPECT_EQ(videos + text_only, 0u);
    if (s >= 2) EXPECT_GT(text_only, 0u) << f;
    if (s >= 3) EXPECT_GT(videos, 0u) << f;
    if (s == 4) EXPECT_GT(videos * 2, ds.records.size()) << "stage 4 is mostly video";
  }
}

TEST(Synth, BenchmarkLoadsAndIsDisjointFromTraining) {
  const World& w = world();
  const auto items = vl3::load_benchmark({w.dir() + "/bench.jsonl"}, w.media());
  ASSERT_EQ(int64_t(items.size()), w.sum.bench_items);
  std::set<std::string> bench_bytes;
  for (const auto& it : items) {
    const std::string path = it.image.empty() ? it.video : it.image;
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_NE(path.find("/media/bench/"), std::string::npos) << path;
    bench_bytes.insert(vl3test::read_file(path));
    if (it.task == "temporal") EXPECT_EQ(it.tolerance, 0.0);  // exact seconds
    if (!it.options.empty()) EXPECT_GE(it.answer_index, 0);
  }
  // Training records never name bench media, and no bench file equals a training file.
  for (int s = 1; s <= 4; ++s)
    for (const auto& rec : read_jsonl(w.dir() + "/stage" + std::to_string(s) + ".jsonl")) {
      const std::string m = rec.contains("image") ? rec["image"].get<std::string>()
                            : rec.contains("video") ? rec["video"][0].get<std::string>() : "";
      if (!m.empty()) EXPECT_EQ(m.rfind("train/", 0), 0u) << m;
    }
  for (const auto& e : fs::recursive_directory_iterator(w.media() + "/train"))
    if (e.is_regular_file()) EXPECT_FALSE(bench_bytes.count(vl3test::read_file(e.path().string()))) << e.path();
}

TEST(Synth, McqPromptsMatchTheEvalLayout) {
  const World& w = world();
  int checked = 0;
  for (const auto& rec : read_jsonl(w.dir() + "/stage3.jsonl"))
    for (const auto& turn : rec["conversations"]) {
      std::string v = turn["value"];
      if (v.rfind("<", 0) == 0) v = v.substr(v.find(">\n") + 2);
      if (turn["from"] != "human" || v.rfind("Question: ", 0) != 0) continue;
      vl3::EvalItem it;
      const size_t opt = v.find("\nOptions:\n");
      ASSERT_NE(opt, std::string::npos);
      it.question = v.substr(10, opt - 10);
      std::regex line(R"(\(([A-Z])\) ([^\n]*)\n)");
      for (std::sregex_iterator m(v.begin() + long(opt), v.end(), line), end; m != end; ++m) it.options.push_back((*m)[2]);
      EXPECT_EQ(vl3::eval_prompt(it), v);
      ++checked;
    }
  EXPECT_GT(checked, 5);
}

TEST(Synth, SceneCaptionsAndCountsMatchThePixels) {
  const World& w = world();
  std::map<std::string, SceneTruth> scenes;  // image -> parsed detailed caption
  for (const auto& rec : read_jsonl(w.dir() + "/stage2.jsonl")) {
    if (!rec.contains("image")) continue;
    const std::string cap = rec["conversations"][1]["value"];
    if (cap.rfind("There ", 0) != 0) continue;
    const std::string path = w.media() + "/" + rec["image"].get<std::string>();
    SceneTruth truth = parse_scene_caption(cap);
    const vl3::Image img = vl3::load_image(path);
    // Drawn at the small model's resolution: 84x84, one visual token per grid cell, each shape inside its cell.
    EXPECT_EQ(img.width, kSceneSide);
    EXPECT_EQ(img.height, kSceneSide);
    EXPECT_TRUE(objects_inside_cells(img, truth.background)) << path;
    const auto found = find_shapes(img, truth.background);
    ASSERT_EQ(found.size(), truth.shapes.size()) << path << ": " << cap;
    EXPECT_EQ(found, truth.shapes) << path << ": " << cap;
    scenes[rec["image"]] = truth;
  }
  EXPECT_EQ(int64_t(scenes.size()), w.sum.train_image_kinds.at("scene"));
  int counted = 0;
  for (const auto& rec : read_jsonl(w.dir() + "/stage3.jsonl")) {
    if (!rec.contains("image") || !scenes.count(rec["image"])) continue;
    const auto& conv = rec["conversations"];
    for (size_t i = 0; i + 1 < conv.size(); i += 2) {
      const std::string q = i == 0 ? first_human(rec) : conv[i]["value"].get<std::string>();
      if (q != "How many shapes are there?") continue;
      EXPECT_EQ(conv[i + 1]["value"].get<std::string>(), std::to_string(scenes[rec["image"]].shapes.size()) + ".");
      ++counted;
    }
  }
  EXPECT_GT(counted, 0);
}

TEST(Synth, ShapeDrillsAskEveryUniquelyColouredShape) {
  // Stage 1 has one record of shape questions per scene, stage 3 one for every other scene: "What is the red
  // shape?" for each shape whose colour is unique in the scene, answered from the scene (its detailed caption,
  // which the test above checks against the pixels), and no other question in the record.
  const World& w = world();
  std::map<std::string, SceneTruth> scenes;
  for (const auto& rec : read_jsonl(w.dir() + "/stage2.jsonl"))
    if (rec.contains("image") && rec["conversations"][1]["value"].get<std::string>().rfind("There ", 0) == 0)
      scenes[rec["image"]] = parse_scene_caption(rec["conversations"][1]["value"]);
  ASSERT_FALSE(scenes.empty());
  const std::regex q_re("What is the ([a-z]+) shape\\?");
  for (int stage : {1, 3}) {
    std::set<std::string> drilled;
    for (const auto& rec : read_jsonl(w.dir() + "/stage" + std::to_string(stage) + ".jsonl")) {
      const std::string id = rec["id"];
      if (id.size() < 6 || id.compare(id.size() - 6, 6, "-shape") != 0) continue;
      ASSERT_TRUE(rec.contains("image")) << id;
      ASSERT_TRUE(scenes.count(rec["image"])) << id << ": shape questions about a medium that is not a scene";
      EXPECT_TRUE(drilled.insert(rec["image"]).second) << id << ": a second shape record for the same scene";
      const SceneTruth& truth = scenes[rec["image"]];
      std::map<std::string, std::vector<std::string>> by_colour;
      for (const auto& sh : truth.shapes) by_colour[sh.colour].push_back(sh.shape);
      std::set<std::string> asked;
      const auto& conv = rec["conversations"];
      for (size_t i = 0; i + 1 < conv.size(); i += 2) {
        const std::string q = i == 0 ? first_human(rec) : conv[i]["value"].get<std::string>();
        std::smatch m;
        ASSERT_TRUE(std::regex_match(q, m, q_re)) << id << ": " << q;
        const std::string colour = m[1];
        ASSERT_EQ(by_colour[colour].size(), 1u) << id << ": asked about " << colour << ", not unique in the scene";
        const std::string& shape = by_colour[colour][0];
        EXPECT_EQ(conv[i + 1]["value"].get<std::string>(), "A " + shape + ".") << id;
        EXPECT_TRUE(asked.insert(colour).second) << id << ": " << colour << " asked twice";
      }
      size_t unique = 0;
      for (const auto& [c, v] : by_colour) unique += v.size() == 1;
      EXPECT_EQ(asked.size(), unique) << id << ": every uniquely coloured shape is asked about";
    }
    size_t with_unique = 0;
    for (const auto& [path, truth] : scenes) {
      std::map<std::string, int> n;
      for (const auto& sh : truth.shapes) ++n[sh.colour];
      with_unique += std::any_of(n.begin(), n.end(), [](const auto& kv) { return kv.second == 1; });
    }
    if (stage == 1) EXPECT_EQ(drilled.size(), with_unique);
    if (stage == 3) {
      EXPECT_GT(drilled.size(), 0u);
      EXPECT_LT(drilled.size(), with_unique);
    }
  }
}

TEST(Synth, TextImagesReadBackAndChartsMeasure) {
  const World& w = world();
  int texts = 0, charts = 0;
  for (const auto& rec : read_jsonl(w.dir() + "/stage2.jsonl")) {
    if (!rec.contains("image")) continue;
    const auto& conv = rec["conversations"];
    const std::string path = w.media() + "/" + rec["image"].get<std::string>();
    if (conv.size() == 4) {  // text image: reading, then the detailed caption
      const std::string answer = conv[1]["value"], cap = conv[3]["value"];
      const TextTruth t = parse_text_caption(cap);
      EXPECT_EQ(answer, t.text + ".");
      EXPECT_EQ(read_text(vl3::load_image(path), t.colour), t.text) << path;
      ++texts;
    } else if (conv[1]["value"].get<std::string>().rfind("A bar chart", 0) == 0) {
      const std::vector<int> values = parse_chart_caption(conv[1]["value"]);
      EXPECT_EQ(measure_bars(vl3::load_image(path)), values) << path;
      ++charts;
    }
  }
  EXPECT_EQ(texts, w.sum.train_image_kinds.at("text"));
  EXPECT_EQ(charts, w.sum.train_image_kinds.at("chart"));
}

TEST(Synth, VideoEventsHappenAtTheAnsweredSecond) {
  const World& w = world();
  int checked = 0;
  auto check = [&](const std::string& path, const std::string& question, int t) {
    const EventFrames ev = event_frames(path);
    ASSERT_FALSE(ev.changes.empty()) << path;
    const bool stop = question.find("stop moving") != std::string::npos;
    EXPECT_EQ(stop ? ev.changes.back() : ev.changes.front(), t) << path << ": " << question;
    ++checked;
  };
  std::regex when(R"(At (\d+) seconds?\.)");
  for (int s = 3; s <= 4; ++s)
    for (const auto& rec : read_jsonl(w.dir() + "/stage" + std::to_string(s) + ".jsonl")) {
      if (!rec.contains("video")) continue;
      const std::string path = w.media() + "/" + rec["video"][0].get<std::string>();
      const auto& conv = rec["conversations"];
      for (size_t i = 0; i + 1 < conv.size(); i += 2) {
        const std::string q = i == 0 ? first_human(rec) : conv[i]["value"].get<std::string>();
        const std::string a = conv[i + 1]["value"];
        std::smatch m;
        if (q.rfind("When does", 0) == 0 && std::regex_match(a, m, when)) check(path, q, std::stoi(m[1]));
        std::smatch len;
        if (std::regex_search(a, len, std::regex(R"(The video is (\d+) seconds long\.)")))
          EXPECT_EQ(int(event_frames(path).frames), std::stoi(len[1])) << path;
      }
    }
  for (const auto& it : vl3::load_benchmark({w.dir() + "/bench.jsonl"}, w.media()))
    if (it.task == "temporal") check(it.video, it.question, std::stoi(it.answer));
  EXPECT_GT(checked, 6);
}

// stage0.jsonl: language-only pretraining for a from-scratch LLM: each training medium's detailed caption given
// as text, then questions about it, plus text-only questions; no record names a medium.
TEST(Synth, Stage0IsTextOnlyLanguagePretraining) {
  const World& w = world();
  const std::string f = w.dir() + "/stage0.jsonl";
  ASSERT_TRUE(fs::exists(f));
  const auto recs = read_jsonl(f);
  EXPECT_EQ(int64_t(recs.size()), w.sum.stage0_records);
  ASSERT_GT(w.sum.stage0_records, 0);
  std::set<std::string> ids;
  int64_t img = 0, vid = 0, text = 0, text_mcq = 0;
  for (const auto& rec : recs) {
    const std::string id = rec.at("id");
    EXPECT_EQ(id.rfind("s0-", 0), 0u) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
    EXPECT_FALSE(rec.contains("image")) << id;
    EXPECT_FALSE(rec.contains("video")) << id;
    const json& conv = rec.at("conversations");
    ASSERT_TRUE(conv.is_array() && !conv.empty() && conv.size() % 2 == 0) << id;
    for (size_t i = 0; i < conv.size(); ++i) {
      EXPECT_EQ(conv[i].at("from"), i % 2 ? "gpt" : "human") << id;
      const std::string v = conv[i].at("value");
      EXPECT_FALSE(v.empty()) << id;
      EXPECT_EQ(v.find("<image>"), std::string::npos) << id;
      EXPECT_EQ(v.find("<video>"), std::string::npos) << id;
    }
    const std::string first = conv[0].at("value");
    const bool image_desc = first.rfind("Image description: ", 0) == 0;
    const bool video_desc = first.rfind("Video description: ", 0) == 0;
    if (id.rfind("s0-img-", 0) == 0) {
      EXPECT_TRUE(image_desc) << id << ": " << first;
      ++img;
    } else if (id.rfind("s0-vid-", 0) == 0) {
      EXPECT_TRUE(video_desc) << id << ": " << first;
      ++vid;
    } else {
      EXPECT_EQ(id.rfind("s0-text-", 0), 0u) << id;
      EXPECT_FALSE(image_desc || video_desc) << id << ": " << first;
      EXPECT_EQ(conv.size(), 2u) << id;  // one text-only question and its answer
      ++text;
      // Some are multiple-choice drills: options (A), (B), ... and the answer is one of their letters.
      if (first.find("\nOptions:\n(A) ") != std::string::npos) {
        const std::string a = conv[1].at("value");
        ASSERT_EQ(a.size(), 2u) << id << ": " << a;
        EXPECT_EQ(a[1], '.') << id;
        EXPECT_NE(first.find(std::string("\n(") + a[0] + ") "), std::string::npos) << id << ": " << first;
        ++text_mcq;
      }
    }
    // A description is followed by a question on its own line.
    if (image_desc || video_desc) {
      const size_t nl = first.find('\n');
      ASSERT_NE(nl, std::string::npos) << id;
      EXPECT_GT(nl, std::string("Image description: ").size()) << id;
      EXPECT_LT(nl + 1, first.size()) << id;
    }
  }
  EXPECT_GT(img, 0);
  EXPECT_GT(vid, 0);
  EXPECT_GT(text, 0);
  EXPECT_LE(img, w.sum.train_images);
  EXPECT_LE(vid, w.sum.train_videos);
  if (test_scale() == kScale) EXPECT_EQ(text, 16);  // 800 text-only questions at scale 1
  EXPECT_GT(text_mcq, 0);
  // It loads as (text-only) training data.
  vl3::DatasetOptions o;
  o.media_root = w.media();
  o.strict = true;
  const vl3::Dataset ds = vl3::load_dataset({f}, o);
  EXPECT_EQ(int64_t(ds.records.size()), w.sum.stage0_records);
  EXPECT_TRUE(ds.skipped.empty());
  for (const auto& r : ds.records)
    for (const auto& m : r.messages)
      for (const auto& p : m.content) EXPECT_EQ(p.type, vl3::ContentPart::Type::Text);
  EXPECT_NE(vl3test::read_file(w.dir() + "/README.md").find("stage0.jsonl"), std::string::npos);
}
