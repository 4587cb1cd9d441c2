// Training annotations -> conversations (src/train/data.cpp), checked against the official
// videollama3/train.py _convert_normal behaviour, plus the loader's file handling and BoundedQueue.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.h"
#include "train/data.h"
#include "vl3/chat.h"
#include "vl3/error.h"

namespace {

using json = nlohmann::json;
using vl3::ContentPart;
using vl3::Message;
using Type = vl3::ContentPart::Type;

std::string join(const std::string& root, const std::string& name) {
  return (std::filesystem::path(root) / name).string();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// Runs record_to_messages and returns the vl3::Error message ("" when it did not throw).
std::string error_of(const json& record, const std::string& root = "") {
  try {
    vl3::record_to_messages(record, root);
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

void expect_text(const ContentPart& p, const std::string& text) {
  EXPECT_EQ(p.type, Type::Text);
  EXPECT_EQ(p.text, text);
}

void expect_media(const ContentPart& p, Type type, const std::string& source) {
  EXPECT_EQ(p.type, type);
  EXPECT_EQ(p.source, source);
}

void expect_string_message(const Message& m, const std::string& role, const std::string& text) {
  EXPECT_EQ(m.role, role);
  EXPECT_TRUE(m.content_is_string);
  ASSERT_EQ(m.content.size(), 1u);
  expect_text(m.content[0], text);
}

const char* kReadme =
    R"({"image": "a.png", "conversations": [{"from":"human","value":"<image>\nWhat is this?"},)"
    R"({"from":"gpt","value":"A cat."}]})";

TEST(RecordToMessages, ReadmeExample) {
  auto msgs = vl3::record_to_messages(json::parse(kReadme), "/data");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].role, "user");
  EXPECT_FALSE(msgs[0].content_is_string);
  ASSERT_EQ(msgs[0].content.size(), 2u);
  expect_media(msgs[0].content[0], Type::Image, join("/data", "a.png"));
  expect_text(msgs[0].content[1], "What is this?");
  expect_string_message(msgs[1], "assistant", "A cat.");

  vl3::ChatRenderOptions ro;
  ro.add_generation_prompt = false;
  EXPECT_EQ(vl3::render_chat(msgs, ro),
            "<|im_start|>user\n<image>\nWhat is this?<|im_end|>\n<|im_start|>assistant\nA cat.<|im_end|>\n");
}

TEST(RecordToMessages, MissingTagIsAddedAtTheStartOfTheFirstUserTurn) {
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"image": "a.png", "conversations": [{"from":"human","value":"Describe it."},
                      {"from":"gpt","value":"Red."}]})"),
      "");
  ASSERT_EQ(msgs[0].content.size(), 2u);
  expect_media(msgs[0].content[0], Type::Image, "a.png");  // no media_root: path kept
  expect_text(msgs[0].content[1], "Describe it.");

  // A leading system turn keeps its text; the image goes into the user turn.
  msgs = vl3::record_to_messages(
      json::parse(R"({"image": "a.png", "conversations": [{"from":"system","value":"Be brief."},
                      {"from":"human","value":"Describe it."}, {"from":"gpt","value":"Red."}]})"),
      "");
  ASSERT_EQ(msgs.size(), 3u);
  expect_string_message(msgs[0], "system", "Be brief.");
  ASSERT_EQ(msgs[1].content.size(), 2u);
  expect_media(msgs[1].content[0], Type::Image, "a.png");

  // Video records get "<video>" the same way.
  msgs = vl3::record_to_messages(
      json::parse(R"({"video": ["v.mp4"], "conversations": [{"from":"human","value":"What happens?"},
                      {"from":"gpt","value":"Rain."}]})"),
      "");
  ASSERT_EQ(msgs[0].content.size(), 2u);
  expect_media(msgs[0].content[0], Type::Video, "v.mp4");
  expect_text(msgs[0].content[1], "What happens?");
}

TEST(RecordToMessages, MultipleImages) {
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"image": ["a.png", "/abs/b.png", "c.png"], "conversations": [
        {"from":"human","value":"Compare <image> and\n<image> "}, {"from":"gpt","value":"Same."},
        {"from":"human","value":"  And <image>?"}, {"from":"gpt","value":"Different."}]})"),
      "root");
  ASSERT_EQ(msgs.size(), 4u);
  ASSERT_EQ(msgs[0].content.size(), 4u);
  expect_text(msgs[0].content[0], "Compare");
  expect_media(msgs[0].content[1], Type::Image, join("root", "a.png"));
  expect_text(msgs[0].content[2], "and");
  expect_media(msgs[0].content[3], Type::Image, "/abs/b.png");  // absolute paths are kept
  ASSERT_EQ(msgs[2].content.size(), 3u);
  expect_text(msgs[2].content[0], "And");
  expect_media(msgs[2].content[1], Type::Image, join("root", "c.png"));
  expect_text(msgs[2].content[2], "?");
  expect_string_message(msgs[3], "assistant", "Different.");
}

TEST(RecordToMessages, VideoRecord) {
  for (const char* video : {R"(["clip.mp4"])", R"("clip.mp4")"}) {
    auto msgs = vl3::record_to_messages(
        json::parse(std::string(R"({"video": )") + video +
                    R"(, "conversations": [{"from":"human","value":"<video>\nSummarise."},
                        {"from":"gpt","value":"A dog runs."}]})"),
        "/v");
    ASSERT_EQ(msgs.size(), 2u);
    ASSERT_EQ(msgs[0].content.size(), 2u);
    expect_media(msgs[0].content[0], Type::Video, join("/v", "clip.mp4"));
    expect_text(msgs[0].content[1], "Summarise.");
  }
  // "<image>" in a video record is plain text (the official code splits video records at "<video>").
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"video": ["c.mp4"], "conversations": [{"from":"human","value":"<video>an <image> tag"},
                      {"from":"gpt","value":"ok"}]})"),
      "");
  ASSERT_EQ(msgs[0].content.size(), 2u);
  expect_text(msgs[0].content[1], "an <image> tag");

  EXPECT_NE(error_of(json::parse(R"({"video": ["a.mp4", "b.mp4"], "conversations": [
      {"from":"human","value":"<video>"}, {"from":"gpt","value":"x"}]})")).find("expected one path"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"video": "a.mp4", "conversations": [
      {"from":"human","value":"<video> and <video>"}, {"from":"gpt","value":"x"}]})")).find("2 <video> tags but 1 video"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"video": "a.mp4", "image": "b.png", "conversations": [
      {"from":"human","value":"hi"}, {"from":"gpt","value":"x"}]})")).find("both"),
            std::string::npos);
}

TEST(RecordToMessages, TextOnlyRecord) {
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"id": 7, "image": null, "conversations": [{"from":"human","value":"\u3000 Hello there \n"},
                      {"from":"gpt","value":"  Hi!\n"}, {"from":"human","value":" \t "}, {"from":"gpt","value":""}]})"),
      "/root");
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0].role, "user");
  EXPECT_FALSE(msgs[0].content_is_string);
  ASSERT_EQ(msgs[0].content.size(), 1u);
  expect_text(msgs[0].content[0], "Hello there");  // stripped like Python's str.strip (U+3000 too)
  expect_string_message(msgs[1], "assistant", "  Hi!\n");  // gpt values verbatim
  EXPECT_TRUE(msgs[2].content.empty());               // an all-space chunk is dropped
  expect_string_message(msgs[3], "assistant", "");
  // A media tag in a text-only user turn has nothing behind it.
  EXPECT_NE(error_of(json::parse(R"({"conversations": [{"from":"human","value":"<image> hi"},
      {"from":"gpt","value":"x"}]})")).find("without \"image\" or \"video\""),
            std::string::npos);
}

TEST(RecordToMessages, TagsInGptTurnsStayText) {
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"image": "a.png", "conversations": [{"from":"human","value":"<image>"},
                      {"from":"gpt","value":"I see <image> here."}]})"),
      "");
  ASSERT_EQ(msgs[0].content.size(), 1u);
  expect_media(msgs[0].content[0], Type::Image, "a.png");
  expect_string_message(msgs[1], "assistant", "I see <image> here.");
}

TEST(RecordToMessages, LeadingNonUserTurnsAreDropped) {
  auto msgs = vl3::record_to_messages(
      json::parse(R"({"conversations": [{"from":"gpt","value":"stray"}, {"from":"gpt","value":"stray 2"},
                      {"from":"human","value":"Q"}, {"from":"gpt","value":"A"}]})"),
      "");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].role, "user");
  expect_text(msgs[0].content[0], "Q");
  expect_string_message(msgs[1], "assistant", "A");

  EXPECT_NE(error_of(json::parse(R"({"conversations": [{"from":"gpt","value":"A"}, {"from":"human","value":"Q"}]})"))
                .find("at least a user and an assistant turn"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"conversations": []})")).find("at least"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"conversations": [{"from":"human","value":"Q"}, {"from":"human","value":"Q"}]})"))
                .find("no gpt turn"),
            std::string::npos);
}

TEST(RecordToMessages, TagCountMustMatchImages) {
  EXPECT_NE(error_of(json::parse(R"({"image": "a.png", "conversations": [
      {"from":"human","value":"<image> vs <image>"}, {"from":"gpt","value":"x"}]})")).find("2 <image> tags but 1 image"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"image": ["a.png", "b.png"], "conversations": [
      {"from":"human","value":"<image> only"}, {"from":"gpt","value":"x"}]})")).find("1 <image> tag but 2 images"),
            std::string::npos);
  // Two images, no tag: one tag is added, which still does not match.
  EXPECT_NE(error_of(json::parse(R"({"image": ["a.png", "b.png"], "conversations": [
      {"from":"human","value":"two"}, {"from":"gpt","value":"x"}]})")).find("1 <image> tag but 2 images"),
            std::string::npos);
}

TEST(RecordToMessages, MalformedRecords) {
  std::string e = error_of(json::parse(R"({"conversations": [{"from":"human","value":"Q"},
      {"from":"bot","value":"A"}]})"));
  EXPECT_NE(e.find("unknown \"from\": \"bot\""), std::string::npos) << e;
  EXPECT_NE(error_of(json::parse(R"({"id": 1})")).find("no \"conversations\""), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"([1, 2])")).find("record object"), std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"conversations": [{"from":"human"}, {"from":"gpt","value":"A"}]})"))
                .find("conversations[0]: missing \"value\""),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"conversations": [{"from":"human","value":3}, {"from":"gpt","value":"A"}]})"))
                .find("conversations[0].value"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"image": 5, "conversations": [{"from":"human","value":"Q"},
      {"from":"gpt","value":"A"}]})")).find("image"),
            std::string::npos);
}

TEST(RecordToMessages, MessagesFormat) {
  auto msgs = vl3::record_to_messages(json::parse(R"({"messages": [
      {"role":"system","content":"S"},
      {"role":"user","content":[{"type":"image","image":"a.png"}, {"type":"image","image":"/abs/b.png"},
                                {"type":"image","image":"data:image/png;base64,AAAA"},
                                {"type":"video","video":{"video_path":"v.mp4","fps":2}}, {"type":"text","text":"Hi"}]},
      {"role":"assistant","content":"Hello"}]})"),
                                      "/m");
  ASSERT_EQ(msgs.size(), 3u);
  ASSERT_EQ(msgs[1].content.size(), 5u);
  expect_media(msgs[1].content[0], Type::Image, join("/m", "a.png"));
  expect_media(msgs[1].content[1], Type::Image, "/abs/b.png");
  expect_media(msgs[1].content[2], Type::Image, "data:image/png;base64,AAAA");
  expect_media(msgs[1].content[3], Type::Video, join("/m", "v.mp4"));
  EXPECT_EQ(msgs[1].content[3].fps, 2.0);
  expect_string_message(msgs[2], "assistant", "Hello");

  msgs = vl3::record_to_messages(json::parse(R"({"conversation": [{"role":"user","content":"Q"},
      {"role":"assistant","content":"A"}]})"), "");
  EXPECT_EQ(msgs.size(), 2u);

  EXPECT_NE(error_of(json::parse(R"({"messages": [{"role":"user","content":"Q"}]})")).find("no assistant message"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"messages": [{"role":"robot","content":"Q"}]})")).find("messages[0].role"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// load_dataset

struct Files {
  vl3test::TempDir dir;
  Files() {
    write(dir.str("a.png"), "png");
    write(dir.str("b.png"), "png");
  }
  std::string path(const std::string& name) const { return dir.str(name); }
};

const char* kGood = R"({"image": "a.png", "conversations": [{"from":"human","value":"<image>Q"}, {"from":"gpt","value":"A"}]})";
const char* kText = R"({"conversations": [{"from":"human","value":"Q"}, {"from":"gpt","value":"A"}]})";

TEST(LoadDataset, JsonlSkipsBrokenLinesWithTheirLineNumber) {
  Files f;
  const std::string file = f.path("train.jsonl");
  write(file, std::string(kGood) + "\n{\"conversations\": [\n\n" + kText + "\r\n   \n");
  vl3::DatasetOptions opt;
  vl3::Dataset ds = vl3::load_dataset({file}, opt);
  ASSERT_EQ(ds.records.size(), 2u);
  EXPECT_EQ(ds.records[0].origin, file + ":1");
  EXPECT_EQ(ds.records[0].index, 0u);
  EXPECT_EQ(ds.records[1].origin, file + ":4");
  EXPECT_EQ(ds.records[1].index, 1u);
  // The media path is joined with the annotation file's directory.
  expect_media(ds.records[0].messages[0].content[0], Type::Image, join(f.dir.path.string(), "a.png"));
  ASSERT_EQ(ds.skipped.size(), 1u);
  EXPECT_EQ(ds.skipped[0].origin, file + ":2");
  EXPECT_NE(ds.skipped[0].what.find("invalid JSON"), std::string::npos);

  opt.strict = true;
  try {
    vl3::load_dataset({file}, opt);
    FAIL() << "strict mode did not throw";
  } catch (const vl3::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file + ":2: invalid JSON", 0), 0u) << e.what();
  }
}

TEST(LoadDataset, JsonArrayOriginsAndBadRecords) {
  Files f;
  const std::string file = f.path("train.json");
  write(file, std::string("[") + kGood + R"(, {"image": "nope.png", "conversations": [{"from":"human","value":"Q"},
      {"from":"gpt","value":"A"}]}, )" + kText + R"(, {"conversations": [{"from":"alien","value":"Q"}]}])");
  vl3::Dataset ds = vl3::load_dataset({file}, {});
  ASSERT_EQ(ds.records.size(), 2u);
  EXPECT_EQ(ds.records[0].origin, file + "[#0]");
  EXPECT_EQ(ds.records[1].origin, file + "[#2]");
  EXPECT_EQ(ds.records[1].index, 1u);
  ASSERT_EQ(ds.skipped.size(), 2u);
  EXPECT_EQ(ds.skipped[0].origin, file + "[#1]");
  EXPECT_EQ(ds.skipped[0].what, "missing media file " + join(f.dir.path.string(), "nope.png"));
  EXPECT_EQ(ds.skipped[1].origin, file + "[#3]");

  vl3::DatasetOptions no_check;
  no_check.check_media = false;
  EXPECT_EQ(vl3::load_dataset({file}, no_check).records.size(), 3u);

  vl3::DatasetOptions strict;
  strict.strict = true;
  try {
    vl3::load_dataset({file}, strict);
    FAIL() << "strict mode did not throw";
  } catch (const vl3::Error& e) {
    EXPECT_EQ(std::string(e.what()), file + "[#1]: missing media file " + join(f.dir.path.string(), "nope.png"));
  }
}

TEST(LoadDataset, MediaRootAndSeveralFiles) {
  Files f;
  vl3test::TempDir other;
  write(other.str("a.png"), "png");
  const std::string one = f.path("one.json"), two = f.path("two.jsonl");
  write(one, kGood);  // a single object: one record
  write(two, std::string(kText) + "\n" + kGood + "\n");
  vl3::DatasetOptions opt;
  opt.media_root = other.path.string();
  vl3::Dataset ds = vl3::load_dataset({one, two}, opt);
  ASSERT_EQ(ds.records.size(), 3u);
  EXPECT_EQ(ds.records[0].origin, one + "[#0]");
  expect_media(ds.records[0].messages[0].content[0], Type::Image, join(other.path.string(), "a.png"));
  EXPECT_EQ(ds.records[2].origin, two + ":2");
  EXPECT_EQ(ds.records[2].index, 2u);
  EXPECT_TRUE(ds.skipped.empty());
}

TEST(LoadDataset, MessagesFormatRecords) {
  Files f;
  const std::string file = f.path("chat.jsonl");
  write(file, R"({"messages": [{"role":"user","content":[{"type":"image","image":"b.png"},{"type":"text","text":"Q"}]},)"
              R"({"role":"assistant","content":"A"}]})"
              "\n"
              R"({"messages": [{"role":"user","content":[{"type":"image","image":"gone.png"}]},{"role":"assistant","content":"A"}]})"
              "\n");
  vl3::Dataset ds = vl3::load_dataset({file}, {});
  ASSERT_EQ(ds.records.size(), 1u);
  expect_media(ds.records[0].messages[0].content[0], Type::Image, join(f.dir.path.string(), "b.png"));
  ASSERT_EQ(ds.skipped.size(), 1u);
  EXPECT_EQ(ds.skipped[0].origin, file + ":2");
  EXPECT_NE(ds.skipped[0].what.find("missing media file"), std::string::npos);
}

TEST(LoadDataset, FileErrors) {
  Files f;
  EXPECT_THROW(vl3::load_dataset({f.path("absent.json")}, {}), vl3::Error);
  EXPECT_THROW(vl3::load_dataset({f.dir.path.string()}, {}), vl3::Error);
  const std::string broken = f.path("broken.json");
  write(broken, "[{\"conversations\": ");
  try {
    vl3::load_dataset({broken}, {});
    FAIL() << "no error for a broken .json";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find(broken), std::string::npos) << e.what();
  }
  const std::string scalar = f.path("scalar.json");
  write(scalar, "42");
  EXPECT_THROW(vl3::load_dataset({scalar}, {}), vl3::Error);
  // Not JSON in any form, whatever the extension.
  const std::string junk = f.path("notes.txt");
  write(junk, "hello\nworld\n");
  EXPECT_THROW(vl3::load_dataset({junk}, {}), vl3::Error);
}

TEST(LoadDataset, UnknownExtensionReadByContent) {
  Files f;
  const std::string arr = f.path("data.txt"), lines = f.path("data.ann");
  write(arr, std::string("[") + kText + "," + kText + "]");
  write(lines, std::string(kText) + "\n" + kText + "\n");
  vl3::Dataset ds = vl3::load_dataset({arr, lines}, {});
  ASSERT_EQ(ds.records.size(), 4u);
  EXPECT_EQ(ds.records[1].origin, arr + "[#1]");
  EXPECT_EQ(ds.records[3].origin, lines + ":2");
}

// ---------------------------------------------------------------------------------------------
// BoundedQueue

TEST(BoundedQueue, ProducerConsumerInOrder) {
  vl3::BoundedQueue<int> q(3);
  constexpr int kN = 200;
  std::thread producer([&] {
    for (int i = 0; i < kN; ++i) ASSERT_TRUE(q.push(i));
    q.close();
  });
  std::vector<int> got;
  while (auto v = q.pop()) got.push_back(*v);
  producer.join();
  ASSERT_EQ(got.size(), size_t(kN));
  for (int i = 0; i < kN; ++i) EXPECT_EQ(got[i], i);
  EXPECT_FALSE(q.push(1));        // closed
  EXPECT_FALSE(q.pop().has_value());
}

TEST(BoundedQueue, CloseDrainsThenWakesBlockedCalls) {
  vl3::BoundedQueue<std::string> q(2);
  EXPECT_TRUE(q.push("a"));
  EXPECT_TRUE(q.push("b"));
  // A third push blocks while full, until close() makes it give up.
  std::thread blocked_push([&] { EXPECT_FALSE(q.push("c")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  q.close();
  blocked_push.join();
  EXPECT_EQ(q.pop(), std::optional<std::string>("a"));  // what was queued is still delivered
  EXPECT_EQ(q.pop(), std::optional<std::string>("b"));
  EXPECT_EQ(q.pop(), std::nullopt);

  vl3::BoundedQueue<int> empty(1);
  std::thread blocked_pop([&] { EXPECT_FALSE(empty.pop().has_value()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  empty.close();
  blocked_pop.join();
}

}  // namespace
