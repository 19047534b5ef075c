#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "wms/data/synth.hpp"
#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"
#include "wms/util/fs.hpp"

namespace wms::data {
namespace {

// A PNG whose header claims width x height but which holds almost no data: what a
// decompression bomb looks like before decoding. CRCs are zero: it must be refused
// on its header alone.
std::string png_claiming(std::uint32_t width, std::uint32_t height) {
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + ihdr + be32(0) + be32(4) + "IDAT" +
         std::string("\x78\x9c\x03\x00", 4) + be32(0) + be32(0) + "IEND" + be32(0);
}

// Good pairs to damage, and where the damaged ones go.
struct Planter {
  std::filesystem::path good, img, msk;
  std::vector<std::string> stems;
  std::vector<PlantedFlaw> flaws;

  std::string read_img(int k) const { return util::read_file(good / "images" / (stems[k] + ".jpg")); }
  std::string read_msk(int k) const { return util::read_file(good / "masks" / (stems[k] + ".jpg")); }
  void put(const std::filesystem::path& f, std::string_view bytes) const { util::atomic_write(f, bytes); }
};

// Faults of the files themselves: truncated, empty, unpaired, a wrong extension.
void plant_file_flaws(Planter& p) {
  // A truncated photo.
  std::string t = p.read_img(0);
  p.put(p.img / "id_9101_value_1_1.jpg", t.substr(0, t.size() * 6 / 10));
  p.put(p.msk / "id_9101_value_1_1.jpg", p.read_msk(0));
  p.flaws.push_back({"file.decodable", "images/id_9101_value_1_1.jpg"});
  // Empty files on both sides.
  p.put(p.img / "id_9102_value_1_2.jpg", "");
  p.put(p.msk / "id_9102_value_1_2.jpg", "");
  p.flaws.push_back({"file.empty", "images/id_9102_value_1_2.jpg"});
  p.flaws.push_back({"file.empty", "masks/id_9102_value_1_2.jpg"});
  // Orphans.
  p.put(p.img / "id_9103_value_1_3.jpg", p.read_img(1));
  p.flaws.push_back({"pair.mask_missing", "images/id_9103_value_1_3.jpg"});
  p.put(p.msk / "id_9104_value_1_4.jpg", p.read_msk(2));
  p.flaws.push_back({"pair.image_missing", "masks/id_9104_value_1_4.jpg"});
  // Unsupported extension.
  p.put(p.img / "id_9105_value_1_5.jph", p.read_img(3));
  p.flaws.push_back({"file.extension", "images/id_9105_value_1_5.jph"});
}

// Masks of another size than their photo (one of them the original's EXIF bug).
void plant_size_flaws(Planter& p) {
  // A mask stretched to the stored size of an EXIF-rotated photo (the original's bug).
  {
    auto d = image::decode_image(p.read_img(4), "x");
    auto m = image::decode_mask(p.read_msk(4), "x").pixels;
    cv::Mat stored = d.pixels.clone();
    image::undo_orientation(stored, 6);
    p.put(p.img / "id_9106_value_1_6.jpg", image::jpeg_with_orientation(image::encode_jpeg(stored, 90), 6));
    cv::Mat stretched;
    cv::resize(m, stretched, stored.size(), 0, 0, cv::INTER_NEAREST);
    p.put(p.msk / "id_9106_value_1_6.jpg", image::encode_jpeg(stretched, 95));
    p.flaws.push_back({"pair.size_mismatch_exif", "images/id_9106_value_1_6.jpg"});
  }
  // A mask of the wrong size.
  {
    auto m = image::decode_mask(p.read_msk(5), "x").pixels;
    cv::Mat half;
    cv::resize(m, half, m.size() / 2, 0, 0, cv::INTER_NEAREST);
    p.put(p.img / "id_9107_value_1_7.jpg", p.read_img(5));
    p.put(p.msk / "id_9107_value_1_7.jpg", image::encode_jpeg(half, 95));
    p.flaws.push_back({"pair.size_mismatch", "images/id_9107_value_1_7.jpg"});
  }
}

// Masks that are not a reading window: noise, all black.
void plant_mask_flaws(Planter& p, std::uint64_t seed) {
  // Noise as a mask (the original's hook tests): not binary, half foreground, many regions.
  {
    auto d = image::decode_image(p.read_img(6), "x");
    cv::Mat noise(d.pixels.size(), CV_8UC1);
    cv::RNG(seed).fill(noise, cv::RNG::UNIFORM, 0, 256);
    p.put(p.img / "id_9108_value_1_8.jpg", p.read_img(6));
    p.put(p.msk / "id_9108_value_1_8.jpg", image::encode_jpeg(noise, 75));
    p.flaws.push_back({"mask.not_binary", "masks/id_9108_value_1_8.jpg"});
    p.flaws.push_back({"mask.foreground_share", "masks/id_9108_value_1_8.jpg"});
    p.flaws.push_back({"mask.regions", "masks/id_9108_value_1_8.jpg"});
  }
  // An all-black mask.
  {
    auto d = image::decode_image(p.read_img(7), "x");
    p.put(p.img / "id_9109_value_1_9.jpg", p.read_img(7));
    p.put(p.msk / "id_9109_value_1_9.jpg", image::encode_jpeg(cv::Mat::zeros(d.pixels.size(), CV_8UC1), 95));
    p.flaws.push_back({"mask.empty", "masks/id_9109_value_1_9.jpg"});
  }
}

// Clashing stems, a bomb, a mislabelled format, duplicates, a tiny photo.
void plant_name_flaws(Planter& p) {
  // Two photos with one stem.
  p.put(p.img / "id_9110_value_2_0.jpg", p.read_img(8));
  p.put(p.img / "id_9110_value_2_0.png", image::encode_png(image::decode_image(p.read_img(8), "x").pixels));
  p.put(p.msk / "id_9110_value_2_0.jpg", p.read_msk(8));
  p.flaws.push_back({"pair.stem_clash", "images/id_9110_value_2_0.jpg"});
  // A decompression bomb: 100000 x 100000 claimed by a 60-byte PNG.
  p.put(p.img / "id_9111_value_2_1.png", png_claiming(100000, 100000));
  p.put(p.msk / "id_9111_value_2_1.png", png_claiming(100000, 100000));
  p.flaws.push_back({"image.too_large", "images/id_9111_value_2_1.png"});
  // PNG content under a .jpg name (a warning), with a name off the pattern (a warning).
  p.put(p.img / "photo_1.jpg", image::encode_png(image::decode_image(p.read_img(9), "x").pixels));
  p.put(p.msk / "photo_1.jpg", p.read_msk(9));
  p.flaws.push_back({"file.format_mismatch", "images/photo_1.jpg"});
  p.flaws.push_back({"name.pattern", "images/photo_1.jpg"});
  // The same photo twice with the same mask (kept once), and once more with another mask.
  p.put(p.img / "id_9112_value_2_2.jpg", p.read_img(10));
  p.put(p.msk / "id_9112_value_2_2.jpg", p.read_msk(10));
  p.put(p.img / "id_9113_value_2_3.jpg", p.read_img(10));
  p.put(p.msk / "id_9113_value_2_3.jpg", p.read_msk(10));
  p.flaws.push_back({"dup.image", "images/id_9113_value_2_3.jpg"});
  p.put(p.img / "id_9114_value_2_4.jpg", p.read_img(10));
  {
    cv::Mat other = image::decode_mask(p.read_msk(10), "x").pixels;
    cv::flip(other, other, -1);  // the same window, somewhere else
    p.put(p.msk / "id_9114_value_2_4.jpg", image::encode_jpeg(other, 95));
  }
  p.flaws.push_back({"dup.mask_conflict", "images/id_9114_value_2_4.jpg"});
  // A tiny photo.
  {
    cv::Mat tiny(32, 40, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::Mat tm = cv::Mat::zeros(32, 40, CV_8UC1);
    cv::rectangle(tm, cv::Rect(10, 10, 12, 8), cv::Scalar(255), cv::FILLED);
    p.put(p.img / "id_9115_value_2_5.jpg", image::encode_jpeg(tiny, 90));
    p.put(p.msk / "id_9115_value_2_5.jpg", image::encode_jpeg(tm, 95));
    p.flaws.push_back({"image.too_small", "images/id_9115_value_2_5.jpg"});
  }
}

}  // namespace

std::vector<PlantedFlaw> synthesize_bad(const std::filesystem::path& out, std::uint64_t seed) {
  namespace fs = std::filesystem;
  // Start from good pairs and damage them.
  Planter p;
  p.good = out / ".good";
  SynthOptions o;
  o.count = 12;
  o.seed = seed;
  o.long_side = 256;
  o.exif_share = 0;
  o.first_id = 9001;
  o.threads = 1;
  synthesize(p.good, o);
  for (const auto& e : fs::directory_iterator(p.good / "images")) p.stems.push_back(e.path().stem().string());
  std::sort(p.stems.begin(), p.stems.end());
  p.img = out / "images";
  p.msk = out / "masks";
  util::make_dirs(p.img);
  util::make_dirs(p.msk);
  plant_file_flaws(p);
  plant_size_flaws(p);
  plant_mask_flaws(p, seed);
  plant_name_flaws(p);
  fs::remove_all(p.good);
  return std::move(p.flaws);
}

}  // namespace wms::data
