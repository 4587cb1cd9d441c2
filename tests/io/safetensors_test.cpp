#include "vl3/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"
#include "vl3/error.h"

namespace fs = std::filesystem;
using vl3::DType;
using vl3::TensorToWrite;
using vl3test::TempDir;

namespace {

const DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                            DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};

// A safetensors image: little-endian length, the header text as given, then `data`.
std::string image(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = char(uint8_t(n >> (8 * i)));
  return out + header + data;
}

// An image whose length prefix is `n` regardless of what follows.
std::string with_length(uint64_t n, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char(uint8_t(n >> (8 * i)));
  return out + rest;
}

vl3::ParsedSafetensors parse(const std::string& bytes, const std::string& origin = "t.safetensors") {
  return vl3::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), origin);
}

// The message parse_safetensors throws, or "" when it accepts the bytes.
std::string parse_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

std::string open_error(const std::string& path) {
  try {
    vl3::SafetensorsCheckpoint::open(path);
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS(haystack, needle)                                                      \
  do {                                                                                    \
    const std::string h_ = (haystack);                                                    \
    EXPECT_NE(h_.find(needle), std::string::npos) << "'" << needle << "' not in: " << h_; \
  } while (0)

// Expects parse_safetensors to reject `bytes` with a message naming the origin and every part.
void expect_rejected(const std::string& bytes, std::initializer_list<const char*> parts) {
  const std::string msg = parse_error(bytes);
  ASSERT_FALSE(msg.empty()) << "accepted";
  EXPECT_EQ(msg.rfind("t.safetensors: ", 0), 0u) << msg;
  for (const char* p : parts) EXPECT_HAS(msg, p);
}

std::string pattern(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char(uint8_t(seed + 7 * i));
  return s;
}

TensorToWrite tw(const std::string& name, DType dt, std::vector<int64_t> shape, const std::string& bytes) {
  return {name, dt, std::move(shape), bytes.data(), bytes.size()};
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

nlohmann::json header_of(const std::string& file_bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(file_bytes[i]);
  return nlohmann::json::parse(file_bytes.substr(8, n));
}

// ----------------------------------------------------------------------------- dtypes

TEST(SafetensorsDType, NamesSizesAndParsing) {
  const std::pair<const char*, size_t> expected[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                                     {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_STREQ(vl3::dtype_name(kAllDTypes[i]), expected[i].first);
    EXPECT_EQ(vl3::dtype_size(kAllDTypes[i]), expected[i].second);
    EXPECT_EQ(vl3::dtype_from_string(expected[i].first), kAllDTypes[i]);
  }
  try {
    vl3::dtype_from_string("F8_E4M3");
    FAIL() << "accepted F8_E4M3";
  } catch (const vl3::Error& e) {
    EXPECT_HAS(e.what(), "F8_E4M3");
  }
  EXPECT_THROW(vl3::dtype_from_string("f32"), vl3::Error);  // the spelling is case-sensitive
}

// ----------------------------------------------------------------------------- well-formed input

TEST(SafetensorsParse, EmptyHeaderIsValid) {
  const auto p = parse(image("{}"));
  EXPECT_TRUE(p.tensors.empty());
  EXPECT_TRUE(p.metadata.empty());
}

TEST(SafetensorsParse, GapsUnalignedDataAndUnknownFieldsAreAccepted) {
  // The header's length is odd, so the buffer starts unaligned, and 'b' starts at an odd offset.
  const std::string h = R"({"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[5,13],"extra":1},)"
                        R"("__metadata__":{"k":"v"}} )";
  const std::string data = pattern(20, 1);
  const std::string bytes = image(h, data);
  const auto p = parse(bytes);
  ASSERT_EQ(p.tensors.size(), 2u);
  const auto& b = p.tensors.at("b");
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.dtype, DType::F32);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(b.nbytes, 8u);
  EXPECT_EQ(b.numel(), 2);
  EXPECT_EQ(b.data, reinterpret_cast<const uint8_t*>(bytes.data()) + 8 + h.size() + 5);
  EXPECT_EQ(std::memcmp(b.data, data.data() + 5, 8), 0);
  EXPECT_EQ(p.tensors.at("a").data, reinterpret_cast<const uint8_t*>(bytes.data()) + 8 + h.size());
  EXPECT_EQ(p.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
}

TEST(SafetensorsParse, ZeroSizeTensorInsideAnotherDoesNotOverlap) {
  const auto p = parse(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("z":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]}})",
                             pattern(8, 0)));
  EXPECT_EQ(p.tensors.at("z").nbytes, 0u);
  EXPECT_EQ(p.tensors.at("z").numel(), 0);
}

TEST(SafetensorsParse, ZeroDimWithHugeOtherDimsIsEmpty) {
  // The product of the non-zero dims overflows, but the tensor holds no elements.
  const auto p = parse(image(R"({"e":{"dtype":"F64","shape":[4611686018427387904,4611686018427387904,0],)"
                             R"("data_offsets":[0,0]}})"));
  EXPECT_EQ(p.tensors.at("e").numel(), 0);
  EXPECT_EQ(p.tensors.at("e").nbytes, 0u);
}

// ----------------------------------------------------------------------------- malformed input

TEST(SafetensorsMalformed, ShorterThanEightBytes) {
  expect_rejected("", {"0 bytes", "shorter than"});
  expect_rejected(std::string(7, '\0'), {"7 bytes", "shorter than"});
}

TEST(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  expect_rejected(with_length(100, "{}"), {"header length 100", "10 bytes"});
  expect_rejected(with_length(3, "{}"), {"header length 3"});
}

TEST(SafetensorsMalformed, HeaderLengthAbsurd) {
  expect_rejected(with_length(100'000'001, "{}"), {"100000001", "100000000-byte limit"});
  expect_rejected(with_length(~uint64_t(0), "{}"), {"18446744073709551615"});
}

TEST(SafetensorsMalformed, HeaderNotJson) {
  expect_rejected(image("{\"a\": "), {"header is not valid JSON"});
  expect_rejected(image(""), {"header is not valid JSON"});
  expect_rejected(image("{} x"), {"header is not valid JSON"});
}

TEST(SafetensorsMalformed, HeaderNotAnObject) {
  expect_rejected(image("[1, 2]"), {"header is JSON array, expected an object"});
  expect_rejected(image("\"x\""), {"header is JSON string"});
}

TEST(SafetensorsMalformed, HeaderNotUtf8) {
  expect_rejected(image("{\"a\xff\": 1}"), {"not valid UTF-8", "byte 3"});
  expect_rejected(image("{\"\xc0\x80\": 1}"), {"not valid UTF-8", "byte 2"});      // overlong NUL
  expect_rejected(image("{\"\xed\xa0\x80\": 1}"), {"not valid UTF-8", "byte 2"});  // surrogate
  expect_rejected(image("{\"\xf4\x90\x80\x80\": 1}"), {"not valid UTF-8"});        // above U+10FFFF
  expect_rejected(image("{\"\xe2\x82\": 1}"), {"not valid UTF-8"});                // truncated sequence
  // Well-formed multi-byte names are fine.
  EXPECT_EQ(parse_error(image("{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\":"
                              "{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}",
                              "x")),
            "");
}

TEST(SafetensorsMalformed, DuplicateKeys) {
  const std::string e = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
  expect_rejected(image("{\"w\":" + e + ",\"w\":" + e + "}", "x"), {"'w' twice"});
  expect_rejected(image(R"({"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"'dtype' twice"});
}

TEST(SafetensorsMalformed, DeepNesting) {
  expect_rejected(image("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"), {"nests deeper"});
}

TEST(SafetensorsMalformed, EntryNotAnObject) {
  expect_rejected(image(R"({"w": [1, 2]})"), {"tensor 'w'", "entry is JSON array, expected an object"});
}

TEST(SafetensorsMalformed, DtypeMissingOrWrongType) {
  expect_rejected(image(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", "x"), {"tensor 'w'", "missing 'dtype'"});
  expect_rejected(image(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"tensor 'w'", "'dtype' is JSON number"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_rejected(image(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"tensor 'w'", "unknown dtype 'F8_E4M3'"});
}

TEST(SafetensorsMalformed, ShapeMissingOrWrongType) {
  expect_rejected(image(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", "x"), {"tensor 'w'", "missing 'shape'"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":1,"data_offsets":[0,1]}})", "x"),
                  {"'shape' is JSON number, expected an array"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}})", "x"),
                  {"shape[0] is JSON string"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "x"),
                  {"shape[0] = 1.5 is not an integer"});
}

TEST(SafetensorsMalformed, NegativeDimension) {
  expect_rejected(image(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}})"),
                  {"tensor 'w'", "shape[1] = -3 is negative"});
}

TEST(SafetensorsMalformed, DimensionTooLarge) {
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}})"),
                  {"tensor 'w'", "9223372036854775808 is too large"});
}

TEST(SafetensorsMalformed, ByteSizeOverflows) {
  expect_rejected(image(R"({"w":{"dtype":"F32","shape":[4294967296,1073741824],"data_offsets":[0,0]}})"),
                  {"tensor 'w'", "shape [4294967296, 1073741824] of F32", "overflows"});
}

TEST(SafetensorsMalformed, OffsetsMissingOrNotTwoIntegers) {
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1]}})", "x"), {"tensor 'w'", "missing 'data_offsets'"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", "x"),
                  {"two non-negative integers, got an array of 1"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", "xx"), {"got an array of 3"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":"0,1"}})", "x"), {"got JSON string"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", "x"),
                  {"data_offsets[0] = -1 is not a non-negative integer"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1.0]}})", "x"),
                  {"data_offsets[1] = 1.0 is not a non-negative integer"});
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,null]}})", "x"),
                  {"data_offsets[1] is JSON null"});
}

TEST(SafetensorsMalformed, OffsetsBeginAfterEnd) {
  expect_rejected(image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[3,2]}})", "xxxx"),
                  {"tensor 'w'", "data_offsets [3, 2] begin after they end"});
}

TEST(SafetensorsMalformed, OffsetsBeyondBuffer) {
  expect_rejected(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234567"),
                  {"tensor 'w'", "data_offsets [0, 8] end beyond the data buffer (7 bytes)"});
  expect_rejected(
      image(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}})"),
      {"end beyond the data buffer (0 bytes)"});
}

TEST(SafetensorsMalformed, ByteSizeMismatch) {
  const std::string bytes =
      image(R"({"model.norm.weight":{"dtype":"F32","shape":[64],"data_offsets":[0,100]}})", std::string(100, 'x'));
  try {
    parse(bytes, "model.safetensors");
    FAIL() << "accepted";
  } catch (const vl3::Error& e) {
    EXPECT_STREQ(e.what(),
                 "model.safetensors: tensor 'model.norm.weight': data_offsets [0, 100] hold 100 bytes but shape "
                 "[64] of F32 needs 256");
  }
  // A 0-d tensor holds one element.
  expect_rejected(image(R"({"s":{"dtype":"I64","shape":[],"data_offsets":[0,0]}})"), {"hold 0 bytes", "needs 8"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  expect_rejected(image(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                        pattern(12, 0)),
                  {"tensors 'a' [0, 8] and 'b' [4, 12] overlap"});
  // Nested ranges: the overlap reported is the first in offset order.
  expect_rejected(image(R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},)"
                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},)"
                        R"("c":{"dtype":"U8","shape":[2],"data_offsets":[10,12]}})",
                        pattern(16, 0)),
                  {"'a' [0, 16] and 'b' [4, 8] overlap"});
  // Touching ranges do not overlap; the offending pair is found after them.
  expect_rejected(image(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},)"
                        R"("c":{"dtype":"U8","shape":[4],"data_offsets":[12,16]},)"
                        R"("d":{"dtype":"U8","shape":[2],"data_offsets":[15,17]}})",
                        pattern(20, 0)),
                  {"tensors 'c' [12, 16] and 'd' [15, 17] overlap"});
  // Identical ranges overlap too.
  expect_rejected(image(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                        pattern(4, 0)),
                  {"overlap"});
}

TEST(SafetensorsMalformed, MetadataNotStringToString) {
  expect_rejected(image(R"({"__metadata__":["pt"]})"), {"__metadata__ is JSON array"});
  expect_rejected(image(R"({"__metadata__":{"format":"pt","n":1}})"), {"__metadata__ key 'n' is JSON number"});
  expect_rejected(image(R"({"__metadata__":null})"), {"__metadata__ is JSON null"});
}

// ----------------------------------------------------------------------------- files

TEST(SafetensorsFile, RoundTripEveryDtypeScalarAndEmpty) {
  TempDir tmp;
  std::vector<std::string> storage;
  std::vector<TensorToWrite> ts;
  storage.reserve(40);
  for (DType dt : kAllDTypes) {
    const std::string base = vl3::dtype_name(dt);
    const size_t es = vl3::dtype_size(dt);
    storage.push_back(pattern(6 * es, uint8_t(es)));
    ts.push_back(tw(base + ".matrix", dt, {2, 3}, storage.back()));
    storage.push_back(pattern(es, uint8_t(es + 1)));
    ts.push_back(tw(base + ".scalar", dt, {}, storage.back()));
    ts.push_back(TensorToWrite{base + ".empty", dt, {0, 5}, nullptr, 0});
    ts.push_back(TensorToWrite{base + ".empty2", dt, {3, 0}, nullptr, 0});
  }
  const std::string path = tmp.str("rt.safetensors");
  vl3::write_safetensors(path, ts);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  auto f = vl3::SafetensorsFile::open(path);
  EXPECT_EQ(f->path(), path);
  ASSERT_EQ(f->tensors().size(), ts.size());
  for (const TensorToWrite& t : ts) {
    const vl3::TensorView* v = f->find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->name, t.name);
    EXPECT_EQ(v->dtype, t.dtype) << t.name;
    EXPECT_EQ(v->shape, t.shape) << t.name;
    ASSERT_EQ(v->nbytes, t.nbytes) << t.name;
    if (t.nbytes) {
      EXPECT_EQ(std::memcmp(v->data, t.data, t.nbytes), 0) << t.name;
    }
  }
  EXPECT_EQ(f->find("F32.scalar")->numel(), 1);
  EXPECT_EQ(f->find("F32.matrix")->numel(), 6);
  EXPECT_EQ(f->find("F32.empty")->numel(), 0);
  EXPECT_EQ(f->find("missing"), nullptr);
  EXPECT_EQ(f->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(SafetensorsFile, LayoutFollowsTheGivenOrderAndPadsTheHeader) {
  TempDir tmp;
  const std::string z = pattern(12, 1), a = pattern(3, 2);
  const std::string path = tmp.str("o.safetensors");
  vl3::write_safetensors(path, {tw("z", DType::F32, {3}, z), tw("a", DType::U8, {3}, a)});
  const std::string bytes = vl3test::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 15);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.rfind(R"({"__metadata__":{"format":"pt"},"z":)", 0), 0u) << header;
  const size_t json_end = header.find_last_not_of(' ') + 1;
  EXPECT_EQ(header[json_end - 1], '}');
  EXPECT_LT(header.size() - json_end, 8u);  // no more padding than needed
  const auto h = header_of(bytes);
  EXPECT_EQ(h["z"]["data_offsets"], (nlohmann::json{0, 12}));
  EXPECT_EQ(h["a"]["data_offsets"], (nlohmann::json{12, 15}));
  EXPECT_EQ(bytes.substr(8 + n, 12), z);
  EXPECT_EQ(bytes.substr(8 + n + 12), a);
}

TEST(SafetensorsFile, MetadataRoundTrip) {
  TempDir tmp;
  const std::string d = pattern(4, 0);
  const std::map<std::string, std::string> md = {
      {"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\""}, {"", "empty key"}};
  vl3::write_safetensors(tmp.str("m.safetensors"), {tw("x", DType::I32, {1}, d)}, md);
  EXPECT_EQ(vl3::SafetensorsFile::open(tmp.str("m.safetensors"))->metadata(), md);

  // Empty metadata leaves __metadata__ out altogether.
  vl3::write_safetensors(tmp.str("e.safetensors"), {tw("x", DType::I32, {1}, d)}, {});
  EXPECT_TRUE(vl3::SafetensorsFile::open(tmp.str("e.safetensors"))->metadata().empty());
  EXPECT_FALSE(header_of(vl3test::read_file(tmp.str("e.safetensors"))).contains("__metadata__"));
}

TEST(SafetensorsFile, OverwriteReplacesAtomically) {
  TempDir tmp;
  const std::string p = tmp.str("w.safetensors"), one = pattern(4, 1), two = pattern(8, 2);
  vl3::write_safetensors(p, {tw("x", DType::F32, {1}, one)});
  auto old = vl3::SafetensorsFile::open(p);
  vl3::write_safetensors(p, {tw("y", DType::F32, {2}, two)});
  // The old mapping still sees the old file (rename replaced the directory entry, not the bytes).
  EXPECT_EQ(std::memcmp(old->find("x")->data, one.data(), 4), 0);
  auto now = vl3::SafetensorsFile::open(p);
  EXPECT_EQ(now->find("x"), nullptr);
  EXPECT_EQ(std::memcmp(now->find("y")->data, two.data(), 8), 0);
}

TEST(SafetensorsFile, WriterRejectsBadInputAndLeavesNothing) {
  TempDir tmp;
  const std::string p = tmp.str("bad.safetensors"), d = pattern(8, 0);
  auto expect_write_error = [&](const std::vector<TensorToWrite>& ts, const char* part) {
    try {
      vl3::write_safetensors(p, ts);
      ADD_FAILURE() << "accepted";
    } catch (const vl3::Error& e) {
      EXPECT_HAS(e.what(), p);
      EXPECT_HAS(e.what(), part);
    }
    EXPECT_FALSE(fs::exists(p));
    EXPECT_FALSE(fs::exists(p + ".tmp"));
  };
  expect_write_error({tw("x", DType::F32, {1}, d.substr(0, 4)), tw("x", DType::F32, {1}, d.substr(0, 4))},
                     "tensor 'x': given twice");
  expect_write_error({tw("x", DType::F32, {3}, d)}, "tensor 'x': 8 bytes given but shape [3] of F32 needs 12");
  expect_write_error({tw("x", DType::U8, {-8}, d)}, "negative dimension");
  expect_write_error({tw("__metadata__", DType::U8, {8}, d)}, "reserved");
  expect_write_error({TensorToWrite{"x", DType::U8, {8}, nullptr, 8}}, "data is null");
  expect_write_error({tw("x\xff", DType::U8, {8}, d)}, "cannot encode the header");

  try {
    vl3::write_safetensors(tmp.str("no/such/dir/x.safetensors"), {});
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const vl3::Error& e) {
    EXPECT_HAS(e.what(), "no/such/dir/x.safetensors.tmp: cannot create");
  }
}

TEST(SafetensorsFile, OpenErrorsNameThePath) {
  TempDir tmp;
  auto open_msg = [](const std::string& p) {
    try {
      vl3::SafetensorsFile::open(p);
    } catch (const vl3::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_HAS(open_msg(tmp.str("absent.safetensors")), tmp.str("absent.safetensors") + ": cannot open");
  EXPECT_HAS(open_msg(tmp.str()), "not a regular file");
  write_text(tmp.str("empty.safetensors"), "");
  EXPECT_HAS(open_msg(tmp.str("empty.safetensors")), tmp.str("empty.safetensors") + ": file is 0 bytes");
  write_text(tmp.str("bad.safetensors"), image(R"({"w":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}})", "x"));
  EXPECT_HAS(open_msg(tmp.str("bad.safetensors")),
             tmp.str("bad.safetensors") + ": tensor 'w': unknown dtype 'F8_E5M2'");
}

// ----------------------------------------------------------------------------- checkpoints

struct Sample {
  std::vector<std::string> data;
  std::vector<TensorToWrite> tensors;
  // `n` F32 tensors of 16 elements (64 bytes), named in an order that is not sorted.
  explicit Sample(int n) {
    data.reserve(n);
    for (int i = 0; i < n; ++i) {
      data.push_back(pattern(64, uint8_t(i)));
      tensors.push_back(tw("t" + std::to_string(n - i), DType::F32, {4, 4}, data.back()));
    }
  }
};

void expect_same(const vl3::SafetensorsCheckpoint& ck, const std::vector<TensorToWrite>& ts) {
  ASSERT_EQ(ck.size(), ts.size());
  for (const TensorToWrite& t : ts) {
    const vl3::TensorView* v = ck.find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->shape, t.shape);
    ASSERT_EQ(v->nbytes, t.nbytes);
    EXPECT_EQ(std::memcmp(v->data, t.data, t.nbytes), 0) << t.name;
  }
}

TEST(SafetensorsCheckpoint, SingleFileDirectoryAndPath) {
  TempDir tmp;
  Sample s(3);
  vl3::write_safetensors_checkpoint(tmp.str(), s.tensors, 3 * 64);  // exactly fits
  EXPECT_TRUE(fs::exists(tmp.str("model.safetensors")));
  EXPECT_FALSE(fs::exists(tmp.str("model.safetensors.index.json")));
  for (const std::string& p : {tmp.str(), tmp.str() + "/", tmp.str("model.safetensors")}) {
    const auto ck = vl3::SafetensorsCheckpoint::open(p);
    expect_same(ck, s.tensors);
    EXPECT_EQ(ck.names(), (std::vector<std::string>{"t1", "t2", "t3"}));
    EXPECT_EQ(fs::path(ck.file_of("t2")).filename(), "model.safetensors");
    EXPECT_EQ(ck.find("t9"), nullptr);
  }
}

TEST(SafetensorsCheckpoint, ShardedRoundTrip) {
  TempDir tmp;
  Sample s(5);
  vl3::write_safetensors_checkpoint(tmp.str("ck"), s.tensors, 130);  // two tensors per shard
  const std::string dir = tmp.str("ck") + "/";
  EXPECT_FALSE(fs::exists(dir + "model.safetensors"));
  for (const char* f :
       {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"})
    EXPECT_TRUE(fs::exists(dir + f)) << f;
  const auto index = nlohmann::json::parse(vl3test::read_file(dir + "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 320);
  EXPECT_EQ(index["weight_map"], (nlohmann::json{{"t5", "model-00001-of-00003.safetensors"},
                                                 {"t4", "model-00001-of-00003.safetensors"},
                                                 {"t3", "model-00002-of-00003.safetensors"},
                                                 {"t2", "model-00002-of-00003.safetensors"},
                                                 {"t1", "model-00003-of-00003.safetensors"}}));
  EXPECT_EQ(vl3::SafetensorsFile::open(dir + "model-00002-of-00003.safetensors")->metadata().at("format"), "pt");

  const auto ck = vl3::SafetensorsCheckpoint::open(tmp.str("ck"));
  expect_same(ck, s.tensors);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"t1", "t2", "t3", "t4", "t5"}));
  EXPECT_EQ(ck.file_of("t3"), dir + "model-00002-of-00003.safetensors");
  EXPECT_EQ(ck.file_of("t1"), dir + "model-00003-of-00003.safetensors");
  EXPECT_THROW(ck.file_of("t9"), vl3::Error);
}

TEST(SafetensorsCheckpoint, OversizeTensorGetsItsOwnShard) {
  TempDir tmp;
  const std::string small = pattern(8, 0), big = pattern(400, 1);
  vl3::write_safetensors_checkpoint(
      tmp.str(), {tw("a", DType::U8, {8}, small), tw("big", DType::U8, {400}, big), tw("c", DType::U8, {8}, small)},
      100);
  const auto index = nlohmann::json::parse(vl3test::read_file(tmp.str("model.safetensors.index.json")));
  EXPECT_EQ(index["weight_map"]["a"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["big"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["c"], "model-00003-of-00003.safetensors");
  EXPECT_EQ(vl3::SafetensorsCheckpoint::open(tmp.str()).find("big")->nbytes, 400u);
}

TEST(SafetensorsCheckpoint, RewritingRemovesStaleFiles) {
  TempDir tmp;
  Sample five(5), two(2);
  vl3::write_safetensors_checkpoint(tmp.str(), five.tensors, 64);  // 5 shards
  vl3::write_safetensors_checkpoint(tmp.str(), two.tensors, 64);   // 2 shards
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(tmp.path)) files.insert(e.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                          "model.safetensors.index.json"}));
  expect_same(vl3::SafetensorsCheckpoint::open(tmp.str()), two.tensors);

  vl3::write_safetensors_checkpoint(tmp.str(), five.tensors);  // now one file
  files.clear();
  for (const auto& e : fs::directory_iterator(tmp.path)) files.insert(e.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"model.safetensors"}));
  expect_same(vl3::SafetensorsCheckpoint::open(tmp.str()), five.tensors);

  vl3::write_safetensors_checkpoint(tmp.str(), two.tensors, 64);  // sharded again
  EXPECT_FALSE(fs::exists(tmp.str("model.safetensors")));
  expect_same(vl3::SafetensorsCheckpoint::open(tmp.str()), two.tensors);
}

TEST(SafetensorsCheckpoint, SingleFileWinsOverIndex) {
  TempDir tmp;
  Sample s(3);
  vl3::write_safetensors_checkpoint(tmp.str(), s.tensors, 64);
  const std::string d = pattern(4, 9);
  vl3::write_safetensors(tmp.str("model.safetensors"), {tw("only", DType::F32, {1}, d)});
  const auto ck = vl3::SafetensorsCheckpoint::open(tmp.str());
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"only"}));
}

TEST(SafetensorsCheckpoint, DirectoryWithoutCheckpoint) {
  TempDir tmp;
  const std::string msg = open_error(tmp.str());
  EXPECT_HAS(msg, tmp.str());
  EXPECT_HAS(msg, "looked for model.safetensors and model.safetensors.index.json");
  EXPECT_HAS(open_error(tmp.str("nope")), tmp.str("nope") + ": cannot open");
}

// Writes a 3-shard checkpoint (t5 t4 | t3 t2 | t1) for the index tests to damage.
struct Sharded {
  TempDir tmp;
  Sample s{5};
  std::string dir = tmp.str();  // ends with a slash
  std::string index_path = dir + "model.safetensors.index.json";
  Sharded() { vl3::write_safetensors_checkpoint(tmp.str(), s.tensors, 130); }
  nlohmann::json index() const { return nlohmann::json::parse(vl3test::read_file(index_path)); }
  void set_index(const nlohmann::json& j) const { write_text(index_path, j.dump()); }
  std::string error() const { return open_error(tmp.str()); }
};

TEST(SafetensorsCheckpoint, MissingShardFile) {
  Sharded c;
  fs::remove(c.dir + "model-00002-of-00003.safetensors");
  const std::string msg = c.error();
  EXPECT_HAS(msg, c.index_path + ": shard files missing");
  EXPECT_HAS(msg, "'model-00002-of-00003.safetensors'");
  EXPECT_EQ(msg.find("00001"), std::string::npos) << msg;
}

TEST(SafetensorsCheckpoint, TensorInIndexAbsentFromShard) {
  Sharded c;
  auto j = c.index();
  j["weight_map"]["ghost"] = "model-00002-of-00003.safetensors";
  c.set_index(j);
  const std::string msg = c.error();
  EXPECT_HAS(msg, c.index_path);
  EXPECT_HAS(msg, "shard 'model-00002-of-00003.safetensors' does not match the index: missing 'ghost'");
}

TEST(SafetensorsCheckpoint, ExtraTensorInShard) {
  Sharded c;
  auto j = c.index();
  j["weight_map"].erase("t4");
  c.set_index(j);
  const std::string msg = c.error();
  EXPECT_HAS(msg, "shard 'model-00001-of-00003.safetensors' does not match the index: extra 't4'");
  EXPECT_EQ(msg.find("missing"), std::string::npos) << msg;
}

TEST(SafetensorsCheckpoint, MissingAndExtraListedTogether) {
  Sharded c;
  auto j = c.index();
  j["weight_map"].erase("t2");
  j["weight_map"]["ghost"] = "model-00002-of-00003.safetensors";
  c.set_index(j);
  EXPECT_HAS(c.error(), "missing 'ghost' (listed in the index, absent from the shard); extra 't2'");
}

TEST(SafetensorsCheckpoint, TensorInTwoShards) {
  Sharded c;
  const std::string d = pattern(64, 3);
  // Shard 3 now also holds t3, which the index places in shard 2.
  vl3::write_safetensors(c.dir + "model-00003-of-00003.safetensors", {c.s.tensors[4], tw("t3", DType::F32, {4, 4}, d)});
  EXPECT_HAS(c.error(), "extra 't3' (the index puts it in 'model-00002-of-00003.safetensors')");
}

TEST(SafetensorsCheckpoint, DuplicateNameInIndex) {
  Sharded c;
  write_text(c.index_path, R"({"weight_map": {"t1": "model-00003-of-00003.safetensors",
                                              "t1": "model-00002-of-00003.safetensors"}})");
  EXPECT_HAS(c.error(), c.index_path + ": index has the key 't1' twice");
}

TEST(SafetensorsCheckpoint, MalformedIndex) {
  Sharded c;
  write_text(c.index_path, "{\"weight_map\": ");
  EXPECT_HAS(c.error(), c.index_path + ": index is not valid JSON");
  write_text(c.index_path, "[]");
  EXPECT_HAS(c.error(), "index is JSON array, expected an object");
  write_text(c.index_path, R"({"metadata": {}})");
  EXPECT_HAS(c.error(), c.index_path + ": missing 'weight_map'");
  write_text(c.index_path, R"({"weight_map": []})");
  EXPECT_HAS(c.error(), "'weight_map' is JSON array");
  write_text(c.index_path, R"({"weight_map": {"t1": 3}})");
  EXPECT_HAS(c.error(), "weight_map entry 't1' is JSON number");
  write_text(c.index_path, R"({"weight_map": {"t1": "../model-00003-of-00003.safetensors"}})");
  EXPECT_HAS(c.error(), "not a plain file name");
}

TEST(SafetensorsCheckpoint, CorruptShardNamesTheShard) {
  Sharded c;
  write_text(c.dir + "model-00002-of-00003.safetensors", "short");
  EXPECT_HAS(c.error(), c.dir + "model-00002-of-00003.safetensors: file is 5 bytes");
}

TEST(SafetensorsCheckpoint, WriterRejectsDuplicatesAcrossShards) {
  TempDir tmp;
  Sample s(3);
  s.tensors.push_back(s.tensors[0]);
  try {
    vl3::write_safetensors_checkpoint(tmp.str("ck"), s.tensors, 64);
    FAIL() << "accepted";
  } catch (const vl3::Error& e) {
    EXPECT_HAS(e.what(), "tensor 't3': given twice");
  }
  EXPECT_FALSE(fs::exists(tmp.str("ck")));
}

// ----------------------------------------------------------------------------- golden data

TEST(SafetensorsGolden, Model) {
  VL3_REQUIRE_GOLDEN();
  const auto ck = vl3::SafetensorsCheckpoint::open(vl3test::golden_dir() + "/model");
  EXPECT_EQ(ck.size(), 66u);
  const vl3::TensorView* e = ck.find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, DType::F32);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{151936, 64}));
  EXPECT_EQ(e->nbytes, 151936u * 64 * 4);
  const vl3::TensorView* p = ck.find("model.vision_encoder.embeddings.patch_embedding.weight");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->shape, (std::vector<int64_t>{64, 3, 14, 14}));
  EXPECT_EQ(ck.find("model.norm.weight")->shape, (std::vector<int64_t>{64}));

  auto f = vl3::SafetensorsFile::open(vl3test::golden_dir() + "/model/model.safetensors");
  EXPECT_EQ(f->metadata().at("format"), "pt");
  // A norm weight holds finite, non-zero floats: the view points at real data.
  float w[64];
  std::memcpy(w, f->find("model.norm.weight")->data, sizeof(w));
  bool nonzero = false;
  for (float x : w) {
    EXPECT_TRUE(std::isfinite(x));
    nonzero |= x != 0.f;
  }
  EXPECT_TRUE(nonzero);
}

TEST(SafetensorsGolden, ImageInputs) {
  VL3_REQUIRE_GOLDEN();
  auto f = vl3::SafetensorsFile::open(vl3test::golden_dir() + "/cases/02_image/inputs.safetensors");
  const vl3::TensorView* img = f->find("item0_resized_u8");
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(img->dtype, DType::U8);
  EXPECT_EQ(img->shape, (std::vector<int64_t>{1, 98, 126, 3}));
  const vl3::TensorView* ids = f->find("input_ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, DType::I64);
  EXPECT_EQ(ids->shape, (std::vector<int64_t>{1, 108}));
  const vl3::TensorView* grid = f->find("grid_sizes");
  ASSERT_NE(grid, nullptr);
  int64_t g[3];
  std::memcpy(g, grid->data, sizeof(g));
  // Patches of the 98x126 image: the grid is (t, h, w) with t = 1 and h * w = 63 (pixel_values rows).
  EXPECT_EQ(g[0], 1);
  EXPECT_EQ(g[1] * g[2], f->find("pixel_values")->shape[0]);
}

}  // namespace
