// Conversations in the OpenAI / Hugging Face message shape, and VideoLLaMA3's chat template.
//
// One representation for the CLI (--messages), the server (request body) and the trainer:
//   [{"role": "system"|"user"|"assistant"|"stream", "content": "text" | [part, ...]}, ...]
// Parts: {"type":"text","text":...}
//        {"type":"image","image": PATH | {"image_path": PATH}}  (also {"type":"image_url","image_url":{"url":...}})
//        {"type":"video","video": PATH | {"video_path": PATH, "fps": 1, "max_frames": 180,
//                                          "start_time": s, "end_time": s}}
// PATH may be a file path, "-" (stdin) or a data: URI; relative paths resolve against the caller's base dir.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vl3 {

struct ContentPart {
  enum class Type { Text, Image, Video };
  Type type = Type::Text;
  std::string text;    // Type::Text
  std::string source;  // Type::Image / Type::Video: path, "-" or data: URI
  // Video sampling options given in the part (unset = the request's defaults).
  std::optional<double> fps, start_time, end_time;
  std::optional<int> max_frames;
  std::optional<double> timestamp;  // image part of a streaming turn: rendered as "Time X.Xs: "
};

struct Message {
  std::string role;
  bool content_is_string = false;  // "content": "...": held as one text part, rendered without parts
  std::vector<ContentPart> content;
  std::string text() const;  // concatenated text parts (or the string content)
};

// Parses a JSON array of messages, or an object with a "messages" (or "conversation") array. Throws vl3::Error naming
// the message index and field on anything malformed (missing role, unknown part type, wrong types).
std::vector<Message> messages_from_json(const nlohmann::json& j);
std::vector<Message> messages_from_json_text(const std::string& text, const std::string& origin);
nlohmann::json messages_to_json(const std::vector<Message>& msgs);

// The official default system prompt (emitted when add_system_prompt and no system message first).
extern const char* const kDefaultSystemPrompt;

struct ChatRenderOptions {
  bool add_system_prompt = false;
  bool add_generation_prompt = true;
  std::string image_token = "<image>";
};

// Per video part, in order of appearance: its frame count and timestamps (seconds). Empty timestamps
// render frames without the "Time X.Xs:" prefix.
struct VideoFrameInfo {
  size_t num_frames = 0;
  std::vector<double> timestamps;
};

// Renders exactly as the hub chat_template.json (see docs/ and ../shared/reference facts §7.2):
// image -> "<image>\n"; video -> "Time 0.0s:<image>,Time 1.0s:<image>\n"; string content verbatim.
// Throws vl3::Error if `videos` does not match the number of video parts.
std::string render_chat(const std::vector<Message>& msgs, const ChatRenderOptions& opt,
                        const std::vector<VideoFrameInfo>& videos = {});

// Replaces the k-th occurrence of `image_token` in `text` by counts[k] copies of it. Throws
// vl3::Error when the number of occurrences differs from counts.size().
std::string expand_image_tokens(const std::string& text, const std::string& image_token,
                                const std::vector<size_t>& counts);

// A media source of a part, relative to `root` (like os.path.join): absolute paths, "-" (stdin), data: URIs and
// an empty root leave it unchanged.
std::string resolve_media_source(const std::string& source, const std::string& root);

// Timestamp text as the template prints it: jinja round(1)|string of a float ("0.0", "12.5").
// The official video loader hands the template numpy float64 timestamps, whose round(1) is numpy's
// rint(x*10)/10 (0.05 -> "0.0", 0.15 -> "0.2"); a timestamp from a JSON conversation is a Python float,
// rounded correctly on its binary value (0.05 -> "0.1", 0.15 -> "0.1"). render_chat uses kNumpy for
// video frames and kPython for image parts. Both print like Python's repr: "-0.0", "1e+16", "nan".
enum class TimestampRounding { kNumpy, kPython };
std::string format_timestamp(double seconds, TimestampRounding rounding = TimestampRounding::kNumpy);

}  // namespace vl3
