// Training data: annotation files (the official format, JSON array or JSONL) -> conversations.
//
// Official record: {"image": PATH | [PATH...], "video": PATH | [PATH], "conversations":
//   [{"from": "human"|"gpt"|"system", "value": "<image>\nWhat is ..."}, ...]}   (text-only: no image/video)
// Also accepted: a record in the messages format, {"messages": [...]} or {"conversation": [...]} (vl3/chat.h),
// whose assistant turns are the supervised ones. Conversion follows the official _convert_normal
// (videollama3/train.py): leading non-user turns dropped, a missing <image>/<video> tag added at the start of the
// first turn, human values split at the tags with each text chunk stripped and empty chunks dropped,
// gpt values kept verbatim as string content.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vl3/chat.h"

namespace vl3 {

struct TrainRecord {
  size_t index = 0;        // position in the dataset (0-based, over all files, skipped records excluded)
  std::string origin;      // "FILE:LINE" (JSONL) or "FILE[#k]" (JSON array), for messages
  std::vector<Message> messages;  // media sources are absolute or relative to media_root already joined
};

struct DatasetProblem {
  std::string origin;
  std::string what;
};

struct Dataset {
  std::vector<TrainRecord> records;
  std::vector<DatasetProblem> skipped;  // records that could not be used, with the reason
};

struct DatasetOptions {
  std::string media_root;  // base of relative media paths ("" = the annotation file's directory)
  bool strict = false;     // a bad record throws vl3::Error (with its origin) instead of being skipped
  bool check_media = true; // a missing media file makes the record bad
};

// Reads every file (".json": array of records; ".jsonl": one record per non-empty line; anything else: by
// content). A file that cannot be read or is not JSON at all is always a vl3::Error naming the file.
Dataset load_dataset(const std::vector<std::string>& files, const DatasetOptions& opt);

// One record -> messages. Throws vl3::Error (without origin) when it is malformed: no conversations, a
// turn with an unknown "from", tag count different from the number of media, image and video together, ...
std::vector<Message> record_to_messages(const nlohmann::json& record, const std::string& media_root);

// A bounded FIFO between a producer thread and the trainer. push() blocks while full; pop() blocks while
// empty and returns nullopt once close() was called and the queue is drained.
template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : cap_(capacity ? capacity : 1) {}
  bool push(T v) {
    std::unique_lock<std::mutex> lk(m_);
    not_full_.wait(lk, [&] { return q_.size() < cap_ || closed_; });
    if (closed_) return false;
    q_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lk(m_);
    not_empty_.wait(lk, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return std::nullopt;
    T v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return v;
  }
  void close() {
    std::lock_guard<std::mutex> lk(m_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  size_t cap_;
  bool closed_ = false;
  std::deque<T> q_;
  std::mutex m_;
  std::condition_variable not_empty_, not_full_;
};

}  // namespace vl3
