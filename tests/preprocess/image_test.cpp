// Image decoding and PIL-exact bicubic resizing (include/vl3/media.h).
//
// Ground truth: the golden cases (Pillow 9.4 resize of the official pipeline, for images directly and
// for video frames through pixel_values), and tests/data/images/manifest.txt, written by
// scripts/gen_image_fixtures.py with Pillow 9.4 (decode checksums, expected failures, resize checksums).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "vl3/error.h"
#include "vl3/media.h"
#include "vl3/safetensors.h"

namespace {

namespace fs = std::filesystem;
using vl3::Image;

const std::string kFixtures = std::string(VL3_SOURCE_DIR) + "/tests/data/images/";

std::string hash_hex(const std::vector<uint8_t>& bytes) {  // FNV-1a 64, as the generator writes
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<uint8_t> bytes_of(const std::string& path) {
  const std::string s = vl3test::read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

Image decode_file(const std::string& name, const vl3::ImageLimits& lim = {}) {
  const std::vector<uint8_t> b = bytes_of(kFixtures + name);
  return vl3::decode_image(b.data(), b.size(), name, lim);
}

std::vector<std::vector<std::string>> manifest(const std::string& kind) {
  std::ifstream f(kFixtures + "manifest.txt");
  std::vector<std::vector<std::string>> out;
  for (std::string line; std::getline(f, line);) {
    std::istringstream ss(line);
    std::vector<std::string> fields;
    for (std::string w; ss >> w;) fields.push_back(w);
    if (!fields.empty() && fields[0] == kind) out.emplace_back(fields.begin() + 1, fields.end());
  }
  return out;
}

Image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image im{w, h, {}};
  for (int i = 0; i < w * h; ++i) im.rgb.insert(im.rgb.end(), {r, g, b});
  return im;
}

// The synthetic pattern of the generator: ((x * 31 + y * 17 + c * 101) ^ ((x * y) >> 3)) & 255.
Image pattern(int w, int h) {
  Image im{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < 3; ++c)
        im.rgb[size_t((y * w + x) * 3 + c)] = uint8_t(((x * 31 + y * 17 + c * 101) ^ ((x * y) >> 3)) & 255);
  return im;
}

// First differing pixel, for a readable failure.
std::string first_difference(const Image& a, const std::vector<uint8_t>& b) {
  for (size_t i = 0; i < a.rgb.size() && i < b.size(); ++i)
    if (a.rgb[i] != b[i]) {
      const size_t p = i / 3;
      return "first difference at x=" + std::to_string(p % a.width) + " y=" + std::to_string(p / a.width) +
             " c=" + std::to_string(i % 3) + ": ours " + std::to_string(a.rgb[i]) + ", expected " +
             std::to_string(b[i]);
    }
  return a.rgb.size() == b.size() ? "identical" : "sizes differ";
}

// ------------------------------------------------------------------------------------ golden data
struct GoldenItem {
  std::string case_name;
  int index;
  std::string media;  // path under media/, for images
};

// The media items of a case, in prompt order (item i of inputs.safetensors).
std::vector<GoldenItem> golden_items(const fs::path& case_dir) {
  std::vector<GoldenItem> items;
  const auto meta = nlohmann::json::parse(vl3test::read_file((case_dir / "meta.json").string()));
  for (const auto& msg : meta.at("conversation")) {
    if (!msg.at("content").is_array()) continue;
    for (const auto& part : msg.at("content")) {
      const std::string type = part.value("type", "");
      if (type == "image") items.push_back({case_dir.filename().string(), int(items.size()), part["image"]["image_path"]});
      if (type == "video") items.push_back({case_dir.filename().string(), int(items.size()), ""});
    }
  }
  return items;
}

std::vector<fs::path> golden_cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(vl3test::golden_dir() + "/cases"))
    if (fs::exists(e.path() / "inputs.safetensors") && fs::exists(e.path() / "meta.json")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ImageGolden, ResizedImagesMatchPillowByteForByte) {
  VL3_REQUIRE_GOLDEN();
  int compared = 0;
  for (const fs::path& dir : golden_cases()) {
    auto st = vl3::SafetensorsFile::open((dir / "inputs.safetensors").string());
    const vl3::TensorView* hw = st->find("resized_hw");
    if (!hw) continue;  // a text-only case
    for (const GoldenItem& item : golden_items(dir)) {
      const vl3::TensorView* want = st->find("item" + std::to_string(item.index) + "_resized_u8");
      if (item.media.empty() || !want) continue;
      int64_t h = 0, w = 0;
      std::memcpy(&h, hw->data + item.index * 16, 8);
      std::memcpy(&w, hw->data + item.index * 16 + 8, 8);
      const Image src = vl3::load_image(vl3test::golden_dir() + "/media/" + item.media);
      const Image got = vl3::resize_bicubic(src, int(w), int(h));
      ASSERT_EQ(want->shape, (std::vector<int64_t>{1, h, w, 3})) << item.case_name;
      const std::vector<uint8_t> expect(want->data, want->data + want->nbytes);
      EXPECT_TRUE(got.rgb == expect) << item.case_name << " item " << item.index << " (" << item.media << " -> "
                                     << w << "x" << h << "): " << first_difference(got, expect);
      ++compared;
    }
  }
  EXPECT_GT(compared, 0) << "no image item found in the golden cases";
  std::cout << "[ golden  ] " << compared << " resized images compared byte for byte\n";
}

// Video frames: the goldens keep the decoded frames (item{i}_source_u8) and, through pixel_values,
// the resized ones (u8 = round((p + 1) * 127.5), patch order of the golden README item 6).
TEST(ImageGolden, ResizedVideoFramesMatchPixelValues) {
  VL3_REQUIRE_GOLDEN();
  int frames_compared = 0;
  for (const fs::path& dir : golden_cases()) {
    auto st = vl3::SafetensorsFile::open((dir / "inputs.safetensors").string());
    const vl3::TensorView* pv = st->find("pixel_values");
    const vl3::TensorView* grid = st->find("grid_sizes");
    const vl3::TensorView* merge = st->find("merge_sizes");
    if (!pv || !grid || !merge) continue;
    auto i64 = [](const vl3::TensorView* t, size_t i) {
      int64_t v;
      std::memcpy(&v, t->data + i * 8, 8);
      return v;
    };
    const std::vector<GoldenItem> items = golden_items(dir);
    int64_t row0 = 0;  // first pixel_values row of the current item
    for (size_t it = 0; it < items.size(); ++it) {
      const int64_t t = i64(grid, it * 3), gh = i64(grid, it * 3 + 1), gw = i64(grid, it * 3 + 2);
      const int64_t m = i64(merge, it);
      const vl3::TensorView* src = st->find("item" + std::to_string(it) + "_source_u8");
      if (src) {
        ASSERT_EQ(src->shape.size(), 4u);
        ASSERT_EQ(src->shape[0], t);
        const int H = int(src->shape[1]), W = int(src->shape[2]);
        const int h = int(gh * 14), w = int(gw * 14);
        for (int64_t f = 0; f < t; ++f) {
          Image frame{W, H, std::vector<uint8_t>(src->data + f * H * W * 3, src->data + (f + 1) * H * W * 3)};
          const Image got = vl3::resize_bicubic(frame, w, h);
          std::vector<uint8_t> expect(size_t(w) * h * 3);
          for (int64_t by = 0; by < gh / m; ++by)
            for (int64_t bx = 0; bx < gw / m; ++bx)
              for (int64_t my = 0; my < m; ++my)
                for (int64_t mx = 0; mx < m; ++mx) {
                  const int64_t row = row0 + ((f * (gh / m) + by) * (gw / m) + bx) * m * m + my * m + mx;
                  const int64_t py0 = (by * m + my) * 14, px0 = (bx * m + mx) * 14;
                  for (int c = 0; c < 3; ++c)
                    for (int py = 0; py < 14; ++py)
                      for (int px = 0; px < 14; ++px) {
                        float p;
                        std::memcpy(&p, pv->data + (row * 588 + c * 196 + py * 14 + px) * 4, 4);
                        expect[size_t(((py0 + py) * w + px0 + px) * 3 + c)] = uint8_t(std::lround((p + 1.0) * 127.5));
                      }
                }
          EXPECT_TRUE(got.rgb == expect) << dir.filename() << " item " << it << " frame " << f << ": "
                                         << first_difference(got, expect);
          ++frames_compared;
        }
      }
      row0 += t * gh * gw;
    }
    EXPECT_EQ(row0, pv->shape[0]) << dir.filename() << ": items do not cover pixel_values";
  }
  EXPECT_GT(frames_compared, 0) << "no video item found in the golden cases";
  std::cout << "[ golden  ] " << frames_compared << " resized video frames compared byte for byte\n";
}

// ------------------------------------------------------------------------- Pillow-made fixtures
TEST(ImageDecode, MatchesPillowOnEveryFixture) {
  const auto lines = manifest("decode");
  ASSERT_GT(lines.size(), 50u) << "manifest missing: run scripts/gen_image_fixtures.py";
  for (const auto& l : lines) {
    const std::string& name = l[0];
    if (l[1] == "error") {
      try {
        decode_file(name);
        ADD_FAILURE() << name << ": Pillow rejects this file, we decoded it";
      } catch (const vl3::Error& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      }
      continue;
    }
    try {
      const Image im = decode_file(name);
      EXPECT_EQ(im.width, std::stoi(l[1])) << name;
      EXPECT_EQ(im.height, std::stoi(l[2])) << name;
      EXPECT_EQ(hash_hex(im.rgb), l[3]) << name << ": pixels differ from Pillow's";
    } catch (const vl3::Error& e) {
      ADD_FAILURE() << name << ": Pillow decodes this file, we throw: " << e.what();
    }
  }
}

TEST(ImageResize, MatchesPillowOnFixtures) {
  const auto lines = manifest("resize");
  ASSERT_GT(lines.size(), 20u);
  for (const auto& l : lines) {
    const Image src = decode_file(l[0]);
    const int w = std::stoi(l[1]), h = std::stoi(l[2]);
    const Image got = vl3::resize_bicubic(src, w, h);
    ASSERT_EQ(got.width, w);
    ASSERT_EQ(got.height, h);
    EXPECT_EQ(hash_hex(got.rgb), l[3]) << l[0] << " " << src.width << "x" << src.height << " -> " << w << "x" << h;
  }
}

TEST(ImageResize, MatchesPillowOnLargePatterns) {
  const auto lines = manifest("pattern");
  ASSERT_GT(lines.size(), 2u);
  for (const auto& l : lines) {
    const int sw = std::stoi(l[0]), sh = std::stoi(l[1]), w = std::stoi(l[2]), h = std::stoi(l[3]);
    const Image src = pattern(sw, sh);
    const auto t0 = std::chrono::steady_clock::now();
    const Image got = vl3::resize_bicubic(src, w, h);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(hash_hex(got.rgb), l[4]) << sw << "x" << sh << " -> " << w << "x" << h;
    std::cout << "[ resize  ] " << sw << "x" << sh << " -> " << w << "x" << h << ": " << ms << " ms\n";
  }
}

// ------------------------------------------------------------------------------- resize properties
TEST(ImageResize, SameSizeIsIdentity) {
  const Image src = decode_file("png_noise_41x29.png");
  EXPECT_TRUE(vl3::resize_bicubic(src, 41, 29).rgb == src.rgb);
}

TEST(ImageResize, ConstantImageStaysConstant) {
  // Normalised weights sum to 2^22 up to rounding, so a flat colour must survive any scale.
  const Image src = solid(37, 23, 0, 128, 255);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {5, 3}, {36, 23}, {37, 90}, {200, 7}, {111, 69}}) {
    const Image got = vl3::resize_bicubic(src, w, h);
    EXPECT_TRUE(got.rgb == solid(w, h, 0, 128, 255).rgb) << w << "x" << h;
  }
}

TEST(ImageResize, RejectsBadSizes) {
  const Image src = solid(4, 4, 1, 2, 3);
  EXPECT_THROW(vl3::resize_bicubic(src, 0, 4), vl3::Error);
  EXPECT_THROW(vl3::resize_bicubic(src, 4, -1), vl3::Error);
  EXPECT_THROW(vl3::resize_bicubic(Image{}, 4, 4), vl3::Error);
  EXPECT_THROW(vl3::resize_bicubic(Image{4, 4, std::vector<uint8_t>(5)}, 2, 2), vl3::Error);
}

// ------------------------------------------------------------------------------ decoding: errors
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ImageDecode, EmptyAndUnknownBytesNameTheSource) {
  const uint8_t junk[] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  EXPECT_NE(error_of([&] { vl3::decode_image(junk, 0, "empty.png"); }).find("empty.png"), std::string::npos);
  const std::string msg = error_of([&] { vl3::decode_image(junk, sizeof junk, "notes.jpg"); });
  EXPECT_NE(msg.find("notes.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a supported image"), std::string::npos) << msg;
}

TEST(ImageDecode, FormatComesFromTheBytesNotTheExtension) {
  vl3test::TempDir dir;
  fs::copy_file(kFixtures + "png_rgb8.png", dir.str("photo.jpg"));
  fs::copy_file(kFixtures + "jpeg_420.jpg", dir.str("picture.png"));
  EXPECT_TRUE(vl3::load_image(dir.str("photo.jpg")).rgb == decode_file("png_rgb8.png").rgb);
  EXPECT_TRUE(vl3::load_image(dir.str("picture.png")).rgb == decode_file("jpeg_420.jpg").rgb);
}

// Every prefix and a spread of single-byte corruptions of every decodable fixture: each must decode
// or throw vl3::Error (ASan/UBSan builds and the fuzz target check the memory side).
TEST(ImageDecode, TruncatedAndCorruptInputsThrowOrDecode) {
  int rejected = 0;
  for (const auto& l : manifest("decode")) {
    // Small images only: every prefix of the 1x100000 strip would take seconds for no new coverage.
    if (l[1] == "error" || std::stoll(l[1]) * std::stoll(l[2]) > 5000) continue;
    const std::vector<uint8_t> good = bytes_of(kFixtures + l[0]);
    for (size_t n = 0; n < good.size(); n += 1 + good.size() / 40) {
      try {
        vl3::decode_image(good.data(), n, l[0]);
      } catch (const vl3::Error&) {
        ++rejected;
      }
    }
    for (size_t i = 0; i < good.size(); i += 1 + good.size() / 40) {
      std::vector<uint8_t> bad = good;
      bad[i] ^= uint8_t(0x5A + i);
      try {
        vl3::decode_image(bad.data(), bad.size(), l[0]);
      } catch (const vl3::Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 500);
}

TEST(ImageDecode, TruncationIsReportedAsSuch) {
  for (const char* name : {"png_truncated.png", "jpeg_truncated.jpg", "jpeg_no_eoi.jpg", "gif_truncated.gif",
                           "bmp_truncated.bmp", "webp_truncated.webp"}) {
    const std::string msg = error_of([&] { decode_file(name); });
    EXPECT_NE(msg.find("truncated"), std::string::npos) << name << ": " << msg;
  }
}

TEST(ImageDecode, PixelCapIsCheckedFromTheHeader) {
  // Headers claiming 10^10, 4.2*10^9, 4.3*10^9 and 3.6*10^9 pixels in files of under 2 KB: the error
  // must come from the header check (decoding first would need gigabytes).
  for (const char* name : {"png_bomb.png", "jpeg_bomb.jpg", "gif_bomb.gif", "bmp_bomb.bmp"}) {
    const std::string msg = error_of([&] { decode_file(name); });
    EXPECT_NE(msg.find("over the limit"), std::string::npos) << name << ": " << msg;
  }
  // Dimensions near 2^32 each (found by the fuzzer: the pixel count overflowed int64 in the message).
  std::vector<uint8_t> bmp(58, 0);
  const uint32_t fields[] = {0, 0, 54, 40, 0xFFFFF7F8u, 0xF9FFFF03u};  // size, reserved, offset, header, w, h
  bmp[0] = 'B';
  bmp[1] = 'M';
  for (int i = 0; i < 6; ++i) std::memcpy(&bmp[2 + 4 * i], &fields[i], 4);
  bmp[28] = 24;  // bits per pixel
  EXPECT_NE(error_of([&] { vl3::decode_image(bmp.data(), bmp.size(), "huge.bmp"); }).find("over the limit"),
            std::string::npos);
  vl3::ImageLimits small;
  small.max_pixels = 100;
  for (const char* name : {"png_rgb8.png", "jpeg_420.jpg", "webp_lossy.webp", "gif_pil.gif", "bmp_rgb24_pil.bmp"}) {
    const std::string msg = error_of([&] { decode_file(name, small); });
    EXPECT_NE(msg.find("over the limit of 100"), std::string::npos) << name << ": " << msg;
  }
  vl3::ImageLimits tiny_bytes;
  tiny_bytes.max_bytes = 10;
  EXPECT_NE(error_of([&] { decode_file("png_rgb8.png", tiny_bytes); }).find("limit"), std::string::npos);
}

TEST(ImageDecode, ExtremeAspectRatios) {
  const Image tall = decode_file("png_1x100000.png");
  EXPECT_EQ(tall.width, 1);
  EXPECT_EQ(tall.height, 100000);
  EXPECT_EQ(tall.rgb[3 * 300], 300 % 256);
  const Image wide = decode_file("png_100000x1.png");
  EXPECT_EQ(wide.width, 100000);
  const Image small = vl3::resize_bicubic(tall, 1, 10);  // a 10000:1 downscale, support ~20000 taps
  EXPECT_EQ(small.height, 10);
}

// --------------------------------------------------------------------------------- load_image
TEST(ImageLoad, MissingFileAndDirectoryNameThePath) {
  vl3test::TempDir dir;
  const std::string missing = dir.str("no_such_image.png");
  std::string msg = error_of([&] { vl3::load_image(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  msg = error_of([&] { vl3::load_image(dir.str()); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

std::string base64(const std::vector<uint8_t>& b) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < b.size(); i += 3) {
    const uint32_t v = b[i] << 16 | (i + 1 < b.size() ? b[i + 1] << 8 : 0) | (i + 2 < b.size() ? b[i + 2] : 0);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < b.size() ? t[(v >> 6) & 63] : '=';
    out += i + 2 < b.size() ? t[v & 63] : '=';
  }
  return out;
}

TEST(ImageLoad, DataUris) {
  const std::vector<uint8_t> png = bytes_of(kFixtures + "png_rgb8.png");
  const Image want = decode_file("png_rgb8.png");
  const std::string b64 = base64(png);
  EXPECT_TRUE(vl3::load_image("data:image/png;base64," + b64).rgb == want.rgb);
  EXPECT_TRUE(vl3::load_image("DATA:;BASE64," + b64).rgb == want.rgb);  // scheme and flag are case-blind
  std::string unpadded = b64;
  while (unpadded.back() == '=') unpadded.pop_back();
  EXPECT_TRUE(vl3::load_image("data:image/png;base64," + unpadded).rgb == want.rgb);
  std::string wrapped;  // MIME-style line breaks, and '+' '/' percent-escaped as in a URL
  for (size_t i = 0; i < b64.size(); ++i) {
    if (i && i % 76 == 0) wrapped += "\r\n";
    wrapped += b64[i] == '+' ? "%2B" : b64[i] == '/' ? "%2f" : std::string(1, b64[i]);
  }
  EXPECT_TRUE(vl3::load_image("data:image/png;base64," + wrapped).rgb == want.rgb);

  std::string pct = "data:image/png,";  // percent-encoded raw bytes
  for (uint8_t c : png) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", c);
    pct += (std::isalnum(c) ? std::string(1, char(c)) : std::string(buf));
  }
  EXPECT_TRUE(vl3::load_image(pct).rgb == want.rgb);

  EXPECT_NE(error_of([] { vl3::load_image("data:image/png;base64"); }).find("no ','"), std::string::npos);
  EXPECT_NE(error_of([&] { vl3::load_image("data:image/png;base64," + b64.substr(0, 9) + "*" + b64.substr(10)); })
                .find("invalid base64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { vl3::load_image("data:;base64," + b64.substr(0, 4 * 20 + 1)); }).find("base64"),
            std::string::npos);
  EXPECT_NE(error_of([] { vl3::load_image("data:image/png,%8"); }).find("percent"), std::string::npos);
  const std::string msg = error_of([] { vl3::load_image("data:text/plain,hello"); });
  EXPECT_NE(msg.find("data: URI"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a supported image"), std::string::npos) << msg;
}

TEST(ImageLoad, Stdin) {
  // Point the process's stdin at a file for the duration of the test.
  ASSERT_NE(std::freopen((kFixtures + "gif_pil.gif").c_str(), "rb", stdin), nullptr);
  const Image im = vl3::load_image("-");
  EXPECT_TRUE(im.rgb == decode_file("gif_pil.gif").rgb);
  ASSERT_NE(std::freopen("/dev/null", "rb", stdin), nullptr);
  const std::string msg = error_of([] { vl3::load_image("-"); });
  EXPECT_NE(msg.find("<stdin>"), std::string::npos) << msg;
}

}  // namespace
