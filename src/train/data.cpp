// Training annotations -> conversations. The conversion of an official record follows
// videollama3/train.py LazySupervisedDataset._convert_normal; where this file is stricter (a record the
// official code would accept and then fail on, or silently mis-train on), the comment says so.
#include "train/data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vl3/error.h"

namespace vl3 {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) { throw Error(what); }

// ---------------------------------------------------------------------------------------------
// Python's str.strip(): removes characters whose isspace() is true (Unicode White_Space plus the
// ASCII separators U+001C..U+001F) from both ends.

bool py_isspace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Decodes the UTF-8 character at s[i] and advances i. A malformed byte is returned as itself
// (never a space), so arbitrary bytes cannot make strip() misbehave.
uint32_t next_char(const std::string& s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len <= 1 || i + len > s.size()) {
    ++i;
    return b;
  }
  uint32_t c = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto cb = static_cast<unsigned char>(s[i + k]);
    if ((cb & 0xC0) != 0x80) {
      ++i;
      return b;
    }
    c = (c << 6) | (cb & 0x3F);
  }
  i += len;
  return c;
}

std::string py_strip(const std::string& s) {
  size_t begin = std::string::npos, end = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    if (!py_isspace(next_char(s, i))) {
      if (begin == std::string::npos) begin = at;
      end = i;
    }
  }
  return begin == std::string::npos ? std::string() : s.substr(begin, end - begin);
}

// Python's str.split(sep) for a non-empty separator: n occurrences give n + 1 pieces.
std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t from = 0;
  for (size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + sep.size())
    out.push_back(s.substr(from, at - from));
  out.push_back(s.substr(from));
  return out;
}

size_t count_tags(const std::string& s, const std::string& tag) { return split(s, tag).size() - 1; }

std::string plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------------------------
// Media paths. Like os.path.join(data_folder, f): an absolute f is kept as it is.

bool is_local_path(const std::string& src) { return src != "-" && src.rfind("data:", 0) != 0; }


std::string media_path(const json& j, const std::string& where) {
  if (!j.is_string()) fail(where + ": expected a path string, got " + j.type_name());
  const std::string& s = j.get_ref<const std::string&>();
  if (s.empty()) fail(where + ": empty path");
  return s;
}

ContentPart text_part(std::string text) {
  ContentPart p;
  p.text = std::move(text);
  return p;
}

// "value" as a string content message, the way messages_from_json holds {"content": "..."}.
Message string_message(const std::string& role, const std::string& value) {
  Message m;
  m.role = role;
  m.content_is_string = true;
  m.content.push_back(text_part(value));
  return m;
}

struct Turn {
  std::string from, value;
};

// ---------------------------------------------------------------------------------------------
// The official {"image"/"video", "conversations"} record.

std::vector<Message> convert_official(const json& record, const std::string& media_root) {
  const json& convs = record.at("conversations");
  if (!convs.is_array()) fail(std::string("\"conversations\": expected an array, got ") + convs.type_name());
  std::vector<Turn> turns;
  for (size_t i = 0; i < convs.size(); ++i) {
    const std::string where = "conversations[" + std::to_string(i) + "]";
    const json& t = convs[i];
    if (!t.is_object()) fail(where + ": expected an object, got " + t.type_name());
    Turn turn;
    for (const char* key : {"from", "value"}) {
      auto it = t.find(key);
      if (it == t.end()) fail(where + ": missing \"" + key + "\"");
      if (!it->is_string()) fail(where + "." + key + ": expected a string, got " + it->type_name());
      (std::string(key) == "from" ? turn.from : turn.value) = it->get<std::string>();
    }
    turns.push_back(std::move(turn));
  }

  // Official: "Find N non-user sentences at the beginning of the conversation, remove them".
  auto first = std::find_if(turns.begin(), turns.end(),
                            [](const Turn& t) { return t.from == "human" || t.from == "system"; });
  turns.erase(turns.begin(), first);
  if (turns.size() < 2) fail("conversation needs at least a user and an assistant turn");

  // Media. The official code reads "image" first and ignores "video" then; both at once is an error here.
  auto present = [&](const char* key) {
    auto it = record.find(key);
    return it != record.end() && !it->is_null() ? &*it : nullptr;
  };
  const json* image = present("image");
  const json* video = present("video");
  if (image && video) fail("a record cannot have both \"image\" and \"video\"");
  std::vector<std::string> media;
  if (image) {
    if (image->is_array()) {
      if (image->empty()) fail("\"image\": empty list");
      for (size_t k = 0; k < image->size(); ++k)
        media.push_back(media_path((*image)[k], "image[" + std::to_string(k) + "]"));
    } else {
      media.push_back(media_path(*image, "image"));
    }
  } else if (video) {
    // Official: a list of exactly one path ("Unsupported video format" otherwise); a bare string is accepted too.
    if (video->is_array()) {
      if (video->size() != 1) fail("\"video\": expected one path, got a list of " + std::to_string(video->size()));
      media.push_back(media_path((*video)[0], "video[0]"));
    } else {
      media.push_back(media_path(*video, "video"));
    }
  }
  for (auto& m : media) m = resolve_media_source(m, media_root);

  // Official: if no turn mentions the tag, "<image>" (or "<video>") is put at the start of the first turn.
  // We put it at the start of the first *human* turn: the official first turn may be a system turn, where the
  // tag would not become a media part.
  const std::string tag = video ? "<video>" : "<image>";
  if (!media.empty() &&
      std::none_of(turns.begin(), turns.end(), [&](const Turn& t) { return t.value.find(tag) != std::string::npos; })) {
    auto human = std::find_if(turns.begin(), turns.end(), [](const Turn& t) { return t.from == "human"; });
    if (human != turns.end()) human->value = tag + human->value;
  }

  // Tag count over the human turns (the only ones split) must match the media. The official code would
  // fail later in the processor (images) or repeat the one video (video).
  size_t tags = 0, other_tags = 0;
  for (const Turn& t : turns) {
    if (t.from != "human") continue;
    tags += count_tags(t.value, tag);
    other_tags += count_tags(t.value, "<image>") + count_tags(t.value, "<video>");
  }
  if (image && tags != media.size())
    fail(plural(tags, "<image> tag") + " but " + plural(media.size(), "image"));
  if (video && tags != 1) fail(plural(tags, "<video> tag") + " but 1 video");
  // A text-only record is not split; a tag left in a user turn would be rendered as an image token
  // with no image behind it.
  if (media.empty() && other_tags > 0)
    fail(plural(other_tags, "<image>/<video> tag") + " in a record without \"image\" or \"video\"");

  std::vector<Message> msgs;
  size_t next_media = 0;
  bool has_assistant = false;
  for (const Turn& t : turns) {
    if (t.from == "gpt") {
      msgs.push_back(string_message("assistant", t.value));  // verbatim: tags stay text
      has_assistant = true;
    } else if (t.from == "system") {
      msgs.push_back(string_message("system", t.value));
    } else if (t.from == "human") {
      // Official: chunks = value.split(tag); each chunk stripped and kept when non-empty, a media part
      // between consecutive chunks. A text-only record is one chunk.
      Message m;
      m.role = "user";
      const std::vector<std::string> chunks = media.empty() ? std::vector<std::string>{t.value} : split(t.value, tag);
      for (size_t c = 0; c < chunks.size(); ++c) {
        if (c > 0) {
          ContentPart p;
          p.type = video ? ContentPart::Type::Video : ContentPart::Type::Image;
          p.source = media[video ? 0 : next_media++];
          m.content.push_back(std::move(p));
        }
        std::string text = py_strip(chunks[c]);
        if (!text.empty()) m.content.push_back(text_part(std::move(text)));
      }
      msgs.push_back(std::move(m));
    } else {
      fail("unknown \"from\": \"" + t.from + "\" (expected human, gpt or system)");
    }
  }
  if (!has_assistant) fail("no gpt turn to train on");
  return msgs;
}

// ---------------------------------------------------------------------------------------------
// Files.

struct Loader {
  const DatasetOptions& opt;
  Dataset ds;

  void bad(const std::string& origin, const std::string& what) {
    if (opt.strict) fail(origin + ": " + what);
    ds.skipped.push_back({origin, what});
  }

  void add(const json& record, const std::string& origin, const std::string& media_root) {
    TrainRecord r;
    try {
      r.messages = record_to_messages(record, media_root);
    } catch (const Error& e) {
      return bad(origin, e.what());
    } catch (const json::exception& e) {  // defensive: nlohmann type errors on odd shapes
      return bad(origin, e.what());
    }
    if (opt.check_media) {
      for (const Message& m : r.messages)
        for (const ContentPart& p : m.content) {
          if (p.type == ContentPart::Type::Text || !is_local_path(p.source)) continue;
          std::error_code ec;
          if (!fs::exists(p.source, ec)) return bad(origin, "missing media file " + p.source);
        }
    }
    r.index = ds.records.size();
    r.origin = origin;
    ds.records.push_back(std::move(r));
  }

  void load_json(const json& j, const std::string& file, const std::string& root) {
    if (j.is_object()) return add(j, file + "[#0]", root);  // a single record
    if (!j.is_array()) fail(file + ": expected an array of records, got " + std::string(j.type_name()));
    for (size_t k = 0; k < j.size(); ++k) add(j[k], file + "[#" + std::to_string(k) + "]", root);
  }

  void load_jsonl(const std::string& text, const std::string& file, const std::string& root) {
    std::istringstream in(text);
    std::string line, first_error;
    size_t lineno = 0, parsed = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (py_strip(line).empty()) continue;
      const std::string origin = file + ":" + std::to_string(lineno);
      json j;
      try {
        j = json::parse(line);
      } catch (const json::parse_error& e) {
        const std::string what = std::string("invalid JSON: ") + e.what();
        if (first_error.empty()) first_error = origin + ": " + what;
        bad(origin, what);
        continue;
      }
      ++parsed;
      add(j, origin, root);
    }
    // Not one line parses: not a JSONL file at all (a wrong path, a binary file).
    if (parsed == 0 && !first_error.empty()) fail(file + ": not a JSON or JSONL file (" + first_error + ")");
  }

  void load_file(const std::string& file) {
    std::error_code ec;
    if (fs::is_directory(file, ec)) fail(file + ": is a directory, not an annotation file");
    std::ifstream f(file, std::ios::binary);
    if (!f) fail(file + ": cannot open annotation file");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) fail(file + ": read error");
    const std::string text = ss.str();

    const std::string root = opt.media_root.empty() ? fs::path(file).parent_path().string() : opt.media_root;
    std::string ext = fs::path(file).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jsonl") return load_jsonl(text, file, root);

    json j;
    try {
      j = json::parse(text);
    } catch (const json::parse_error& e) {
      if (ext == ".json") fail(file + ": invalid JSON: " + e.what());
      return load_jsonl(text, file, root);  // unknown extension: JSON if it parses, JSONL otherwise
    }
    load_json(j, file, root);
  }
};

}  // namespace

std::vector<Message> record_to_messages(const json& record, const std::string& media_root) {
  if (!record.is_object()) fail(std::string("expected a record object, got ") + record.type_name());
  if (record.contains("conversations")) return convert_official(record, media_root);

  if (record.contains("messages") || record.contains("conversation")) {
    std::vector<Message> msgs = messages_from_json(record);
    for (Message& m : msgs)
      for (ContentPart& p : m.content)
        if (p.type != ContentPart::Type::Text) p.source = resolve_media_source(p.source, media_root);
    if (std::none_of(msgs.begin(), msgs.end(), [](const Message& m) { return m.role == "assistant"; }))
      fail("no assistant message to train on");
    return msgs;
  }
  fail("record has no \"conversations\" (or \"messages\") array");
}

Dataset load_dataset(const std::vector<std::string>& files, const DatasetOptions& opt) {
  Loader loader{opt, {}};
  for (const std::string& file : files) loader.load_file(file);
  return std::move(loader.ds);
}

}  // namespace vl3
