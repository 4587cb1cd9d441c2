// Chat template rendering, messages JSON parsing and placeholder expansion (include/vl3/chat.h).
// Expected strings were checked against the hub template rendered by jinja2 the way transformers
// does it (trim_blocks, lstrip_blocks), with numpy float64 video timestamps as the official loader gives.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"
#include "vl3/chat.h"
#include "vl3/error.h"

namespace {

using nlohmann::json;
using vl3::ChatRenderOptions;
using vl3::ContentPart;
using vl3::Message;
using vl3::VideoFrameInfo;

const std::string kSys =
    "<|im_start|>system\nYou are VideoLLaMA3 created by Alibaba DAMO Academy, a helpful assistant to "
    "help people understand images and videos.<|im_end|>\n";

std::vector<Message> parse(const std::string& text) { return vl3::messages_from_json(json::parse(text)); }

std::string render(const std::string& msgs_json, bool sys, bool gen, const std::vector<VideoFrameInfo>& v = {}) {
  ChatRenderOptions opt;
  opt.add_system_prompt = sys;
  opt.add_generation_prompt = gen;
  return vl3::render_chat(parse(msgs_json), opt, v);
}

// Runs fn, expects a vl3::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no vl3::Error thrown; expected one mentioning \"" << parts.front() << "\"";
  } catch (const vl3::Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "message: " << e.what() << "\nwanted: " << p;
  }
}

void expect_parse_error(const std::string& text, const std::vector<std::string>& parts) {
  SCOPED_TRACE(text);
  expect_error([&] { parse(text); }, parts);
}

bool same_part(const ContentPart& a, const ContentPart& b) {
  return a.type == b.type && a.text == b.text && a.source == b.source && a.fps == b.fps &&
         a.start_time == b.start_time && a.end_time == b.end_time && a.max_frames == b.max_frames &&
         a.timestamp == b.timestamp;
}

bool same_messages(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].role != b[i].role || a[i].content_is_string != b[i].content_is_string ||
        a[i].content.size() != b[i].content.size())
      return false;
    for (size_t k = 0; k < a[i].content.size(); ++k)
      if (!same_part(a[i].content[k], b[i].content[k])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Rendering

TEST(ChatRender, StringContent) {
  EXPECT_EQ(render(R"([{"role":"user","content":"Hello"}])", false, true),
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render(R"([{"role":"user","content":""}])", false, false), "<|im_start|>user\n<|im_end|>\n");
}

TEST(ChatRender, SystemPromptOnlyWhenFirstMessageIsNotSystem) {
  const std::string user = R"([{"role":"user","content":"Hi"}])";
  EXPECT_EQ(render(user, true, true), kSys + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render(user, false, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // A caller's own system message replaces the default one.
  EXPECT_EQ(render(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])", true, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  // Only the first message is looked at: a later system message does not suppress the default.
  EXPECT_EQ(render(R"([{"role":"user","content":"a"},{"role":"system","content":"b"}])", true, false),
            kSys + "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n");
}

TEST(ChatRender, MultipleImagesAndText) {
  EXPECT_EQ(render(R"([{"role":"user","content":[{"type":"image","image":"a.png"},
                       {"type":"image","image":{"image_path":"b.png"}},{"type":"text","text":"Diff?"}]}])",
                   false, true),
            "<|im_start|>user\n<image>\n<image>\nDiff?<|im_end|>\n<|im_start|>assistant\n");
  // Text before an image, a bare string part, and an OpenAI image_url part.
  EXPECT_EQ(render(R"([{"role":"user","content":["Look: ",{"type":"image_url","image_url":{"url":"x.png"}},
                       {"type":"text","text":"ok"}]}])",
                   false, false),
            "<|im_start|>user\nLook: <image>\nok<|im_end|>\n");
}

TEST(ChatRender, VideoWithTimestamps) {
  const std::string msgs = R"([{"role":"user","content":[{"type":"video","video":"v.mp4"},"What?"]}])";
  EXPECT_EQ(render(msgs, false, true, {{3, {0.0, 1.0, 2.5}}}),
            "<|im_start|>user\nTime 0.0s:<image>,Time 1.0s:<image>,Time 2.5s:<image>\nWhat?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render(msgs, false, false, {{1, {12.25}}}), "<|im_start|>user\nTime 12.2s:<image>\nWhat?<|im_end|>\n");
  // Frame timestamps are numpy float64 in the official loader: 0.05 rounds to 0.0, 0.15 to 0.2.
  EXPECT_EQ(render(msgs, false, false, {{2, {0.05, 0.15}}}),
            "<|im_start|>user\nTime 0.0s:<image>,Time 0.2s:<image>\nWhat?<|im_end|>\n");
}

TEST(ChatRender, VideoWithoutTimestampsAndEmptyVideo) {
  const std::string msgs = R"([{"role":"user","content":[{"type":"video","video":"v.mp4"},
                               {"type":"video","video":"w.mp4"},{"type":"video","video":"z.mp4"}]}])";
  // No timestamps: bare placeholders; zero frames render nothing at all, as range(0) does.
  EXPECT_EQ(render(msgs, false, false, {{2, {}}, {0, {}}, {1, {}}}),
            "<|im_start|>user\n<image>,<image>\n<image>\n<|im_end|>\n");
}

TEST(ChatRender, MixedImageAndVideoInOrder) {
  EXPECT_EQ(render(R"([{"role":"user","content":[{"type":"image","image":"a.png"},
                       {"type":"video","video":{"video_path":"v.mp4","fps":1,"max_frames":180}},
                       {"type":"text","text":"Compare."}]}])",
                   true, true, {{2, {0, 1}}}),
            kSys + "<|im_start|>user\n<image>\nTime 0.0s:<image>,Time 1.0s:<image>\nCompare.<|im_end|>\n"
                   "<|im_start|>assistant\n");
}

TEST(ChatRender, StreamRole) {
  // String content keeps the newline after <|stream_end|>; list content does not.
  EXPECT_EQ(render(R"([{"role":"stream","content":"hi"}])", false, false), "<|stream_start|>stream\nhi<|stream_end|>\n");
  EXPECT_EQ(render(R"([{"role":"stream","content":[{"type":"image","image":"f.png","timestamp":0.15},"plain"]},
                       {"role":"user","content":"q"}])",
                   false, true),
            // An image timestamp comes from JSON, a Python float: round(0.15, 1) is 0.1.
            "<|stream_start|>stream\nTime 0.1s: <image>\nplain<|stream_end|><|im_start|>user\nq<|im_end|>\n"
            "<|im_start|>assistant\n");
  // A stream first with add_system_prompt still gets the default system prompt.
  EXPECT_EQ(render(R"([{"role":"stream","content":[]}])", true, false),
            kSys + "<|stream_start|>stream\n<|stream_end|>");
}

TEST(ChatRender, AssistantTurnAndNoGenerationPrompt) {
  EXPECT_EQ(render(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"A"}])", false, false),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(ChatRender, ImageTokenOption) {
  ChatRenderOptions opt;
  opt.image_token = "<|image_pad|>";
  opt.add_generation_prompt = false;
  auto msgs = parse(R"([{"role":"user","content":[{"type":"image","image":"a.png"},{"type":"video","video":"v"}]}])");
  EXPECT_EQ(vl3::render_chat(msgs, opt, {{2, {0, 1}}}),
            "<|im_start|>user\n<|image_pad|>\nTime 0.0s:<|image_pad|>,Time 1.0s:<|image_pad|>\n<|im_end|>\n");
}

TEST(ChatRender, Errors) {
  auto one_video = parse(R"([{"role":"user","content":[{"type":"video","video":"v.mp4"}]}])");
  expect_error([&] { vl3::render_chat(one_video, {}, {}); }, {"1 video part", "for 0"});
  expect_error([&] { vl3::render_chat(one_video, {}, {{3, {0.0, 1.0}}}); }, {"video 0", "3 frames", "2 timestamps"});
  std::vector<Message> bad(1);
  bad[0].role = "user";
  bad[0].content_is_string = true;
  bad[0].content.resize(1);
  bad[0].content[0].type = ContentPart::Type::Image;
  bad[0].content[0].source = "a.png";
  expect_error([&] { vl3::render_chat(bad, {}); }, {"messages[0]", "string content"});
  expect_error([&] { vl3::messages_to_json(bad); }, {"messages[0]", "string content"});
}

// ---------------------------------------------------------------------------------------------
// Timestamps

TEST(ChatTimestamp, NumpyRoundingOfFrameTimestamps) {
  using R = vl3::TimestampRounding;
  const std::vector<std::pair<double, const char*>> cases = {
      {0.0, "0.0"},   {1.0, "1.0"},     {12.5, "12.5"},   {123.0, "123.0"}, {0.25, "0.2"},  {0.75, "0.8"},
      {0.05, "0.0"},  {0.15, "0.2"},    {0.35, "0.4"},    {1.05, "1.0"},    {9.95, "10.0"}, {0.96, "1.0"},
      {2.675, "2.7"}, {1.0 / 3, "0.3"}, {179.0, "179.0"}, {-0.04, "-0.0"},  {-0.0, "-0.0"}, {-1.26, "-1.3"},
      {1e15 + 0.3, "1000000000000000.2"}, {1125899906842624.25, "1125899906842624.2"},
      {9999999999999998.0, "9999999999999998.0"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
      {123456789012345678.0, "1.2345678901234568e+17"}, {1e300, "1e+300"}};
  for (const auto& [x, want] : cases) EXPECT_EQ(vl3::format_timestamp(x), want) << x;
  for (const auto& [x, want] : cases) EXPECT_EQ(vl3::format_timestamp(x, R::kNumpy), want) << x;
  // x*10 overflows in numpy's algorithm.
  EXPECT_EQ(vl3::format_timestamp(std::numeric_limits<double>::max()), "inf");
  EXPECT_EQ(vl3::format_timestamp(std::nan("")), "nan");
  EXPECT_EQ(vl3::format_timestamp(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(ChatTimestamp, PythonRoundingOfJsonTimestamps) {
  using R = vl3::TimestampRounding;
  const std::vector<std::pair<double, const char*>> cases = {
      {0.0, "0.0"},   {12.5, "12.5"}, {0.25, "0.2"},  {0.75, "0.8"},   {0.05, "0.1"},
      {0.15, "0.1"},  {0.35, "0.3"},  {1.05, "1.1"},  {9.95, "9.9"},   {2.675, "2.7"},
      {-0.04, "-0.0"}, {-0.05, "-0.1"}, {1e16, "1e+16"}, {1125899906842624.25, "1125899906842624.2"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"}};
  for (const auto& [x, want] : cases) EXPECT_EQ(vl3::format_timestamp(x, R::kPython), want) << x;
}

// ---------------------------------------------------------------------------------------------
// Parsing

TEST(ChatParse, ShapesAndFields) {
  auto msgs = vl3::messages_from_json(json::parse(R"({"messages":[
      {"role":"system","content":"S"},
      {"role":"user","content":[
          {"type":"image","image":{"image_path":"a.png"}},
          {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
          {"type":"image_url","image_url":"b.png"},
          {"type":"video","video":{"video_path":"v.mp4","fps":2,"max_frames":16,"start_time":1.5,"end_time":4}},
          {"type":"video_url","video_url":{"url":"w.mp4"}},
          "bare",
          {"type":"text","text":"T"}]}]})"));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[0].content_is_string);
  EXPECT_EQ(msgs[0].text(), "S");
  const auto& c = msgs[1].content;
  ASSERT_EQ(c.size(), 7u);
  EXPECT_EQ(c[0].type, ContentPart::Type::Image);
  EXPECT_EQ(c[0].source, "a.png");
  EXPECT_EQ(c[1].source, "data:image/png;base64,AAAA");
  EXPECT_EQ(c[2].source, "b.png");
  EXPECT_EQ(c[3].type, ContentPart::Type::Video);
  EXPECT_EQ(c[3].source, "v.mp4");
  EXPECT_EQ(c[3].fps, 2.0);
  EXPECT_EQ(c[3].max_frames, 16);
  EXPECT_EQ(c[3].start_time, 1.5);
  EXPECT_EQ(c[3].end_time, 4.0);
  EXPECT_EQ(c[4].type, ContentPart::Type::Video);
  EXPECT_FALSE(c[4].fps.has_value());
  EXPECT_EQ(c[5].type, ContentPart::Type::Text);
  EXPECT_EQ(c[5].text, "bare");
  EXPECT_FALSE(msgs[1].content_is_string);
  EXPECT_EQ(msgs[1].text(), "bareT");
}

TEST(ChatParse, ErrorsNameMessageAndField) {
  expect_parse_error(R"([{"role":"user","content":"a"},{"role":"user","content":[{"type":"audio","audio":"x"}]}])",
                     {"messages[1].content[0]: unknown part type \"audio\""});
  expect_parse_error(R"([{"content":"a"}])", {"messages[0]: missing \"role\""});
  expect_parse_error(R"([{"role":"tool","content":"a"}])", {"messages[0].role", "unknown role \"tool\""});
  expect_parse_error(R"([{"role":7,"content":"a"}])", {"messages[0].role", "expected a string, got number"});
  expect_parse_error(R"([{"role":"user"}])", {"messages[0]: missing \"content\""});
  expect_parse_error(R"([{"role":"user","content":null}])", {"messages[0].content", "got null"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image"}]}])", {"messages[0].content[0]", "without \"image\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image","image":{}}]}])",
                     {"messages[0].content[0].image", "missing \"image_path\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image","image":""}]}])", {"content[0].image", "empty path"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image","image":"a","text":"t"}]}])", {"\"text\" field"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"text"}]}])", {"content[0]", "without \"text\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"text","text":3}]}])", {"content[0].text", "expected a string"});
  expect_parse_error(R"([{"role":"user","content":[{"text":"no type"}]}])", {"content[0]: missing \"type\""});
  expect_parse_error(R"([{"role":"user","content":[5]}])", {"content[0]", "got number"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"fps":1}}]}])",
                     {"content[0].video", "missing \"video_path\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","fps":"1"}}]}])",
                     {"messages[0].content[0].video.fps", "expected a number, got string"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","fps":0}}]}])",
                     {"video.fps", "positive"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","max_frames":-3}}]}])",
                     {"video.max_frames", "-3"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","max_frames":0}}]}])",
                     {"video.max_frames", "between 1"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","max_frames":2.5}}]}])",
                     {"video.max_frames", "integer"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","start_time":-1}}]}])",
                     {"video.start_time", "negative"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","start_time":5,"end_time":2}}]}])",
                     {"content[0].video", "before start_time"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"video","video":{"video_path":"v","fsp":1}}]}])",
                     {"unsupported video option \"fsp\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image_url","image_url":{}}]}])",
                     {"content[0].image_url", "missing \"url\""});
  expect_parse_error(R"([{"role":"user","content":[{"type":"text","text":"a","timestamp":1}]}])",
                     {"content[0]", "only allowed on image parts"});
  expect_parse_error(R"([{"role":"user","content":[{"type":"image","image":"a","timestamp":"1"}]}])",
                     {"content[0].timestamp", "expected a number"});
  expect_parse_error(R"([])", {"empty"});
  expect_parse_error(R"({"msgs":[]})", {"\"messages\""});
  expect_parse_error(R"("hello")", {"expected an array"});
  expect_parse_error(R"([3])", {"messages[0]: expected an object"});
}

TEST(ChatParse, TextWithOrigin) {
  expect_error([] { vl3::messages_from_json_text("[{\"role\":\"user\",", "req.json"); }, {"req.json: invalid JSON"});
  expect_error([] { vl3::messages_from_json_text(R"([{"role":"bot","content":""}])", "req.json"); },
               {"req.json: messages[0].role"});
  auto msgs = vl3::messages_from_json_text(R"([{"role":"user","content":"x"}])", "req.json");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].text(), "x");
}

TEST(ChatParse, JsonRoundTrip) {
  const auto msgs = parse(R"([
      {"role":"system","content":"S"},
      {"role":"user","content":[{"type":"image","image":"a.png"},"bare",
          {"type":"video","video":{"video_path":"v.mp4","fps":0.5,"max_frames":180,"start_time":0,"end_time":9.75}},
          {"type":"video","video":"w.mp4"},{"type":"text","text":"Q \"quoted\"\n"}]},
      {"role":"stream","content":[{"type":"image_url","image_url":{"url":"f.png"},"timestamp":3.25}]},
      {"role":"assistant","content":""},
      {"role":"user","content":[]}])");
  const json j = vl3::messages_to_json(msgs);
  const auto back = vl3::messages_from_json(j);
  EXPECT_TRUE(same_messages(msgs, back)) << j.dump(1);
  EXPECT_EQ(vl3::messages_to_json(back), j);
  // Through text too, as the CLI and server exchange it.
  EXPECT_TRUE(same_messages(msgs, vl3::messages_from_json_text(j.dump(), "roundtrip")));
  ASSERT_EQ(back.size(), 5u);
  EXPECT_EQ(back[2].content[0].timestamp, 3.25);
  EXPECT_EQ(back[1].content[2].end_time, 9.75);
}

// ---------------------------------------------------------------------------------------------
// Placeholder expansion

TEST(ChatExpand, ReplacesEachOccurrenceByItsCount) {
  EXPECT_EQ(vl3::expand_image_tokens("a<image>\nb<image>,<image>c", "<image>", {2, 0, 3}),
            "a<image><image>\nb,<image><image><image>c");
  EXPECT_EQ(vl3::expand_image_tokens("<image><image>", "<image>", {1, 2}), "<image><image><image>");
  EXPECT_EQ(vl3::expand_image_tokens("no media", "<image>", {}), "no media");
  EXPECT_EQ(vl3::expand_image_tokens("x<|image_pad|>", "<|image_pad|>", {2}), "x<|image_pad|><|image_pad|>");
  // Another token's spelling is left alone.
  EXPECT_EQ(vl3::expand_image_tokens("<image>", "<|image_pad|>", {}), "<image>");
}

TEST(ChatExpand, CountMismatchSaysBothNumbers) {
  expect_error([] { vl3::expand_image_tokens("<image><image><image>", "<image>", {1, 1}); },
               {"3 \"<image>\" placeholder", "2 image/frame token count"});
  expect_error([] { vl3::expand_image_tokens("text", "<image>", {4}); }, {"0 \"<image>\"", "1 image/frame"});
  expect_error([] { vl3::expand_image_tokens("text", "", {}); }, {"empty image token"});
}

// ---------------------------------------------------------------------------------------------
// Golden: the official processor's prompt for every case, byte for byte.

TEST(ChatGolden, RendersEveryCasePrompt) {
  VL3_REQUIRE_GOLDEN();
  namespace fs = std::filesystem;
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(vl3test::golden_dir() + "/cases"))
    if (fs::exists(e.path() / "meta.json") && fs::exists(e.path() / "prompt.txt")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  ASSERT_FALSE(cases.empty());

  for (const auto& dir : cases) {
    SCOPED_TRACE(dir.filename().string());
    const json meta = json::parse(vl3test::read_file((dir / "meta.json").string()));
    const auto msgs = vl3::messages_from_json(meta.at("conversation"));
    // video_timestamps is keyed by the item's index among all images and videos, in order.
    std::vector<VideoFrameInfo> videos;
    size_t item = 0, images_and_frames = 0;
    for (const auto& m : msgs) {
      for (const auto& p : m.content) {
        if (p.type == ContentPart::Type::Image) {
          ++item;
          ++images_and_frames;
        } else if (p.type == ContentPart::Type::Video) {
          const json& ts = meta.at("video_timestamps").at(std::to_string(item++));
          videos.push_back({ts.size(), ts.get<std::vector<double>>()});
          images_and_frames += ts.size();
        }
      }
    }
    ChatRenderOptions opt;
    // The processor's defaults (both false) apply where meta.json does not say: the training case.
    opt.add_system_prompt = meta.value("add_system_prompt", false);
    opt.add_generation_prompt = meta.value("add_generation_prompt", false);
    const std::string prompt = vl3::render_chat(msgs, opt, videos);
    EXPECT_EQ(prompt, vl3test::read_file((dir / "prompt.txt").string()));

    // One placeholder per image and per frame, which expansion then multiplies.
    std::vector<size_t> ones(images_and_frames, 1);
    EXPECT_EQ(vl3::expand_image_tokens(prompt, opt.image_token, ones), prompt);
  }
}

}  // namespace
