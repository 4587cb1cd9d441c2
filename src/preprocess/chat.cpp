// Messages JSON <-> vl3::Message. The accepted shapes are listed in include/vl3/chat.h and
// docs/chat-template.md; every error names the message index and the field, so a bad request or
// --messages file can be fixed from the message alone.
#include <filesystem>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>

#include "vl3/chat.h"
#include "vl3/error.h"

namespace vl3 {

using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

const std::string& get_string(const json& j, const std::string& where) {
  if (!j.is_string()) fail(where, std::string("expected a string, got ") + j.type_name());
  return j.get_ref<const std::string&>();
}

// A media source: an empty path can only be a mistake, and failing here names the field.
std::string get_source(const json& j, const std::string& where) {
  const std::string& s = get_string(j, where);
  if (s.empty()) fail(where, "empty path");
  return s;
}

double get_number(const json& j, const std::string& where) {
  if (!j.is_number()) fail(where, std::string("expected a number, got ") + j.type_name());
  return j.get<double>();
}

ContentPart parse_image_object(const json& img, const std::string& where) {
  ContentPart part;
  part.type = ContentPart::Type::Image;
  for (auto it = img.begin(); it != img.end(); ++it) {
    if (it.key() != "image_path") fail(where, "unsupported image option " + in_quotes(it.key()));
  }
  auto p = img.find("image_path");
  if (p == img.end()) fail(where, "missing \"image_path\"");
  part.source = get_source(*p, where + ".image_path");
  return part;
}

void parse_video_object(const json& v, const std::string& where, ContentPart& part) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    const std::string at = where + "." + k;
    if (k == "video_path") {
      part.source = get_source(*it, at);
    } else if (k == "fps") {
      double fps = get_number(*it, at);
      if (!(fps > 0)) fail(at, "must be positive, got " + it->dump());
      part.fps = fps;
    } else if (k == "max_frames") {
      if (!it->is_number_integer()) fail(at, std::string("expected an integer, got ") + it->dump());
      constexpr int kMax = std::numeric_limits<int>::max();
      const bool in_range = it->is_number_unsigned()
                                ? it->get<uint64_t>() >= 1 && it->get<uint64_t>() <= uint64_t(kMax)
                                : it->get<int64_t>() >= 1 && it->get<int64_t>() <= kMax;
      if (!in_range)
        fail(at, "must be between 1 and " + std::to_string(kMax) + ", got " +
                     it->dump());
      part.max_frames = it->get<int>();
    } else if (k == "start_time" || k == "end_time") {
      double t = get_number(*it, at);
      if (t < 0) fail(at, "must not be negative, got " + it->dump());
      (k == "start_time" ? part.start_time : part.end_time) = t;
    } else {
      fail(where, "unsupported video option " + in_quotes(k) +
                      " (known: video_path, fps, max_frames, start_time, end_time)");
    }
  }
  if (part.source.empty()) fail(where, "missing \"video_path\"");
  if (part.start_time && part.end_time && *part.end_time < *part.start_time)
    fail(where, "end_time " + json(*part.end_time).dump() + " is before start_time " +
                    json(*part.start_time).dump());
}

// {"type":"image_url","image_url":{"url":...}} (OpenAI) or {"image_url":"..."}; same for video_url.
std::string parse_url_field(const json& p, const std::string& key, const std::string& where) {
  auto u = p.find(key);
  if (u == p.end()) fail(where, key + " part without " + in_quotes(key));
  if (u->is_string()) return get_source(*u, where + "." + key);
  if (!u->is_object()) fail(where + "." + key, std::string("expected an object, got ") + u->type_name());
  auto url = u->find("url");
  if (url == u->end()) fail(where + "." + key, "missing \"url\"");
  return get_source(*url, where + "." + key + ".url");
}

ContentPart parse_part(const json& p, const std::string& where) {
  ContentPart part;
  // The template renders a bare string inside a content list verbatim, like a text part.
  if (p.is_string()) {
    part.text = p.get<std::string>();
    return part;
  }
  if (!p.is_object()) fail(where, std::string("expected an object or a string, got ") + p.type_name());
  auto t = p.find("type");
  if (t == p.end()) fail(where, "missing \"type\"");
  const std::string& type = get_string(*t, where + ".type");
  // The template tests "'text' in content" before the media branches, so a media part with a
  // "text" field would be rendered as text and its placeholder silently lost.
  if (type != "text" && p.contains("text")) fail(where, in_quotes(type) + " part with a \"text\" field");

  if (type == "text") {
    auto x = p.find("text");
    if (x == p.end()) fail(where, "text part without \"text\"");
    part.text = get_string(*x, where + ".text");
  } else if (type == "image") {
    auto img = p.find("image");
    if (img == p.end()) fail(where, "image part without \"image\" (a path or {\"image_path\": ...})");
    if (img->is_object()) {
      part = parse_image_object(*img, where + ".image");
    } else {
      part.type = ContentPart::Type::Image;
      part.source = get_source(*img, where + ".image");
    }
  } else if (type == "image_url") {
    part.type = ContentPart::Type::Image;
    part.source = parse_url_field(p, "image_url", where);
  } else if (type == "video") {
    part.type = ContentPart::Type::Video;
    auto v = p.find("video");
    if (v == p.end()) fail(where, "video part without \"video\" (a path or {\"video_path\": ...})");
    if (v->is_object())
      parse_video_object(*v, where + ".video", part);
    else
      part.source = get_source(*v, where + ".video");
  } else if (type == "video_url") {
    part.type = ContentPart::Type::Video;
    part.source = parse_url_field(p, "video_url", where);
  } else {
    fail(where, "unknown part type " + in_quotes(type));
  }

  if (auto ts = p.find("timestamp"); ts != p.end()) {
    if (part.type != ContentPart::Type::Image) fail(where, "\"timestamp\" is only allowed on image parts");
    part.timestamp = get_number(*ts, where + ".timestamp");
  }
  return part;
}

Message parse_message(const json& m, const std::string& where) {
  if (!m.is_object()) fail(where, std::string("expected an object, got ") + m.type_name());
  Message msg;
  auto r = m.find("role");
  if (r == m.end()) fail(where, "missing \"role\"");
  msg.role = get_string(*r, where + ".role");
  if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "stream")
    fail(where + ".role", "unknown role " + in_quotes(msg.role) + " (expected system, user, assistant or stream)");

  auto c = m.find("content");
  if (c == m.end()) fail(where, "missing \"content\"");
  if (c->is_string()) {
    msg.content_is_string = true;
    ContentPart part;
    part.text = c->get<std::string>();
    msg.content.push_back(std::move(part));
  } else if (c->is_array()) {
    for (size_t k = 0; k < c->size(); ++k)
      msg.content.push_back(parse_part((*c)[k], where + ".content[" + std::to_string(k) + "]"));
  } else {
    fail(where + ".content", std::string("expected a string or an array, got ") + c->type_name());
  }
  return msg;
}

json part_to_json(const ContentPart& p) {
  switch (p.type) {
    case ContentPart::Type::Text:
      return {{"type", "text"}, {"text", p.text}};
    case ContentPart::Type::Image: {
      json j = {{"type", "image"}, {"image", {{"image_path", p.source}}}};
      if (p.timestamp) j["timestamp"] = *p.timestamp;
      return j;
    }
    case ContentPart::Type::Video: {
      json v = {{"video_path", p.source}};
      if (p.fps) v["fps"] = *p.fps;
      if (p.max_frames) v["max_frames"] = *p.max_frames;
      if (p.start_time) v["start_time"] = *p.start_time;
      if (p.end_time) v["end_time"] = *p.end_time;
      return {{"type", "video"}, {"video", v}};
    }
  }
  throw Error("messages_to_json: corrupt content part type");
}

}  // namespace

std::string Message::text() const {
  std::string out;
  for (const auto& p : content)
    if (p.type == ContentPart::Type::Text) out += p.text;
  return out;
}

std::vector<Message> messages_from_json(const json& j) {
  const json* arr = &j;
  if (j.is_object()) {
    // {"messages": [...]} (request bodies) or {"conversation": [...]} (the golden meta.json shape).
    auto it = j.find("messages");
    if (it == j.end()) it = j.find("conversation");
    if (it == j.end()) throw Error("messages: the object has no \"messages\" (or \"conversation\") array");
    arr = &*it;
  }
  if (!arr->is_array())
    throw Error(std::string("messages: expected an array of messages, got ") + arr->type_name());
  if (arr->empty()) throw Error("messages: the conversation is empty");
  std::vector<Message> msgs;
  msgs.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); ++i)
    msgs.push_back(parse_message((*arr)[i], "messages[" + std::to_string(i) + "]"));
  return msgs;
}

std::vector<Message> messages_from_json_text(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(origin + ": invalid JSON: " + e.what());
  }
  try {
    return messages_from_json(j);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

json messages_to_json(const std::vector<Message>& msgs) {
  json arr = json::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    json jm = {{"role", m.role}};
    if (m.content_is_string) {
      for (const auto& p : m.content)
        if (p.type != ContentPart::Type::Text)
          throw Error("messages[" + std::to_string(i) + "]: string content cannot hold a media part");
      jm["content"] = m.text();
    } else {
      json parts = json::array();
      for (const auto& p : m.content) parts.push_back(part_to_json(p));
      jm["content"] = std::move(parts);
    }
    arr.push_back(std::move(jm));
  }
  return arr;
}

std::string resolve_media_source(const std::string& source, const std::string& root) {
  if (root.empty() || source.empty() || source == "-" || source.rfind("data:", 0) == 0 ||
      std::filesystem::path(source).is_absolute())
    return source;
  return (std::filesystem::path(root) / source).string();
}

}  // namespace vl3
