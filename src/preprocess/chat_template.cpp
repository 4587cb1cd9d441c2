// VideoLLaMA3's hub chat template (assets/tokenizer/chat_template.json), rendered in C++ instead of
// through a jinja engine: the template is fixed, and a hand-written renderer gives exact bytes and
// errors that name the message. docs/chat-template.md lists the rules this follows.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "vl3/chat.h"
#include "vl3/error.h"

namespace vl3 {

const char* const kDefaultSystemPrompt =
    "You are VideoLLaMA3 created by Alibaba DAMO Academy, a helpful assistant to help people "
    "understand images and videos.";

namespace {

// Python's repr of a float, which numpy's str of a float64 matches: the shortest digits that read
// back to the same double, positional for decimal exponents -4..15, else scientific ("1e+16").
std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+17", "0e+00"
  std::string out;
  if (sci[0] == '-') {
    out = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int exp = std::atoi(sci.c_str() + e + 1);

  if (exp >= 16 || exp < -4) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int a = std::abs(exp);
    out += exp < 0 ? "e-" : "e+";
    if (a < 10) out += '0';
    return out + std::to_string(a);
  }
  if (exp < 0) return out + "0." + std::string(size_t(-exp - 1), '0') + digits;
  const size_t int_len = size_t(exp) + 1;
  if (digits.size() <= int_len) return out + digits + std::string(int_len - digits.size(), '0') + ".0";
  return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

// Python's round(x, 1): the decimal correctly rounded (half to even) on the exact binary value, read
// back as a double. to_chars with a precision is exact like glibc's printf, and locale-free.
double python_round1(double x) {
  char buf[400];  // DBL_MAX has 309 integer digits
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, 1);
  double r = 0;
  std::from_chars(buf, res.ptr, r);
  return r;
}

void append_timestamp(std::string& out, double t, TimestampRounding rounding, const char* tail) {
  out += "Time ";
  out += format_timestamp(t, rounding);
  out += tail;
}

}  // namespace

std::string format_timestamp(double seconds, TimestampRounding rounding) {
  if (!std::isfinite(seconds)) return python_float_repr(seconds);
  // numpy's around(): multiply by 10, rint (ties to even), divide: what round(np.float64, 1) does.
  const double r = rounding == TimestampRounding::kNumpy ? std::nearbyint(seconds * 10.0) / 10.0
                                                         : python_round1(seconds);
  return python_float_repr(r);
}

std::string render_chat(const std::vector<Message>& msgs, const ChatRenderOptions& opt,
                        const std::vector<VideoFrameInfo>& videos) {
  size_t num_video_parts = 0;
  for (const auto& m : msgs)
    for (const auto& p : m.content) num_video_parts += p.type == ContentPart::Type::Video;
  if (num_video_parts != videos.size())
    throw Error("render_chat: the conversation has " + std::to_string(num_video_parts) +
                " video part(s) but frame info was given for " + std::to_string(videos.size()));
  for (size_t v = 0; v < videos.size(); ++v) {
    const auto& info = videos[v];
    if (!info.timestamps.empty() && info.timestamps.size() != info.num_frames)
      throw Error("render_chat: video " + std::to_string(v) + " has " + std::to_string(info.num_frames) +
                  " frames but " + std::to_string(info.timestamps.size()) + " timestamps");
  }

  std::string out;
  size_t video_idx = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (i == 0 && opt.add_system_prompt && m.role != "system") {
      out += "<|im_start|>system\n";
      out += kDefaultSystemPrompt;
      out += "<|im_end|>\n";
    }
    const bool stream = m.role == "stream";
    const std::string end_tag = stream ? "<|stream_end|>" : "<|im_end|>";
    out += stream ? "<|stream_start|>" : "<|im_start|>";
    out += m.role;
    out += '\n';

    // String content always ends with a newline, even for stream; list content of a stream turn
    // does not (the template's two branches differ).
    if (m.content_is_string) {
      for (const auto& p : m.content)
        if (p.type != ContentPart::Type::Text)
          throw Error("render_chat: messages[" + std::to_string(i) +
                      "] has string content but holds a media part");
      out += m.text();
      out += end_tag + "\n";
      continue;
    }
    for (const auto& p : m.content) {
      switch (p.type) {
        case ContentPart::Type::Text:
          out += p.text;
          break;
        case ContentPart::Type::Image:
          if (p.timestamp) append_timestamp(out, *p.timestamp, TimestampRounding::kPython, "s: ");
          out += opt.image_token;
          out += '\n';
          break;
        case ContentPart::Type::Video: {
          const VideoFrameInfo& info = videos[video_idx++];
          for (size_t f = 0; f < info.num_frames; ++f) {
            if (!info.timestamps.empty())
              append_timestamp(out, info.timestamps[f], TimestampRounding::kNumpy, "s:");
            out += opt.image_token;
            out += f + 1 < info.num_frames ? ',' : '\n';
          }
          break;
        }
      }
    }
    out += end_tag;
    if (!stream) out += '\n';
  }
  if (opt.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string expand_image_tokens(const std::string& text, const std::string& image_token,
                                const std::vector<size_t>& counts) {
  if (image_token.empty()) throw Error("expand_image_tokens: empty image token");
  size_t occurrences = 0, total = 0;
  for (size_t pos = text.find(image_token); pos != std::string::npos;
       pos = text.find(image_token, pos + image_token.size()))
    ++occurrences;
  if (occurrences != counts.size())
    throw Error("expand_image_tokens: the prompt has " + std::to_string(occurrences) + " \"" + image_token +
                "\" placeholder(s) but " + std::to_string(counts.size()) +
                " image/frame token count(s) were given");
  for (size_t c : counts) total += c;

  std::string out;
  out.reserve(text.size() + (total - std::min(total, occurrences)) * image_token.size());
  size_t start = 0, k = 0;
  for (size_t pos = text.find(image_token); pos != std::string::npos;
       pos = text.find(image_token, start)) {
    out.append(text, start, pos - start);
    for (size_t n = 0; n < counts[k]; ++n) out += image_token;
    ++k;
    start = pos + image_token.size();
  }
  out.append(text, start, std::string::npos);
  return out;
}

}  // namespace vl3
