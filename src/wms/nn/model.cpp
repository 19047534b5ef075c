#include "wms/nn/model.hpp"

#include <fmt/chrono.h>

#include <chrono>
#include <cstring>

#include "wms/nn/model_impl.hpp"
#include "wms/nn/pth.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"
#include "wms/version.hpp"

namespace wms::nn {
namespace {

constexpr char kMagic[8] = {'W', 'M', 'S', 'M', 'O', 'D', 'E', 'L'};
constexpr std::uint32_t kFormat = 1;

void put_le(std::string& s, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le(std::string_view s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

std::string raw_sha256(std::string_view bytes) {
  std::string hex = util::sha256_hex(bytes), raw;
  for (std::size_t i = 0; i < hex.size(); i += 2) raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return raw;
}

std::shared_ptr<Model::Impl> make_impl(const ModelConfig& c) {
  validate(c);
  auto impl = std::make_shared<Model::Impl>();
  impl->net = UNet(c.in_channels, c.base_filters, c.out_channels);
  impl->info.config = c;
  impl->info.created = util::utc_now();
  impl->info.wms_version = kVersion;
  return impl;
}

}  // namespace

void validate(const ModelConfig& c) {
  if (c.in_channels < 1 || c.base_filters < 1 || c.base_filters > 256 || c.out_channels < 1 || c.input_size < 16 ||
      c.input_size % 16 != 0 || c.input_size > 4096)
    throw InvalidInput("model: base_filters must be 1..256 and input_size a multiple of 16 in 16..4096 (got {} and {})",
                       c.base_filters, c.input_size);
  if (c.scales.empty() || c.scales.size() > 4)
    throw InvalidInput("model: scales must list 1 to 4 numbers (got {})", c.scales.size());
  for (double s : c.scales)
    if (!(s >= 0.25 && s <= 4) || view_size(c, s) > 4096)
      throw InvalidInput("model: scales: {} must be in 0.25..4 and give a view of at most 4096 px", s);
  if (!(c.extra_scales_window_below > 0 && c.extra_scales_window_below <= 1))
    throw InvalidInput("model: extra_scales_window_below must be in (0, 1] (got {})", c.extra_scales_window_below);
}

int view_size(const ModelConfig& config, double scale) {
  return std::max(16, static_cast<int>(std::lround(config.input_size * scale / 16.0)) * 16);
}

nlohmann::json ModelInfo::to_json() const {
  return {{"architecture", architecture},
          {"in_channels", config.in_channels},
          {"base_filters", config.base_filters},
          {"out_channels", config.out_channels},
          {"input_size", config.input_size},
          {"threshold", config.threshold},
          {"flip_average", config.flip_average},
          {"scales", config.scales},
          {"extra_scales_window_below", config.extra_scales_window_below},
          {"region", kRegionNames.name(config.region)},
          // What older wms read instead of "region": the nearest it has.
          {"largest_component", config.region != Region::kAll},
          {"preprocessing", preprocessing},
          {"dataset_version", dataset_version},
          {"seed", seed},
          {"created", created},
          {"wms_version", wms_version},
          {"metrics", metrics},
          {"params", params}};
}

ModelInfo ModelInfo::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    ModelInfo i;
    i.architecture = j.at("architecture").get<std::string>();
    if (i.architecture != "unet") throw Corrupt("{}: unknown architecture '{}'", source, i.architecture);
    i.config.in_channels = j.at("in_channels").get<int>();
    i.config.base_filters = j.at("base_filters").get<int>();
    i.config.out_channels = j.at("out_channels").get<int>();
    i.config.input_size = j.at("input_size").get<int>();
    i.config.threshold = j.at("threshold").get<double>();
    i.config.flip_average = j.value("flip_average", false);
    i.config.scales = j.value("scales", std::vector<double>{1.0});
    i.config.extra_scales_window_below = j.value("extra_scales_window_below", 1.0);
    // Bundles from before model.region said only whether to keep the largest region.
    if (j.contains("region")) {
      auto r = kRegionNames.find(j.at("region").get<std::string>());
      if (!r)
        throw Corrupt("{}: region '{}' is not one of {}", source, j.at("region").get<std::string>(),
                      kRegionNames.choices());
      i.config.region = *r;
    } else
      i.config.region = j.value("largest_component", false) ? Region::kLargest : Region::kAll;
    i.preprocessing = j.value("preprocessing", i.preprocessing);
    i.dataset_version = j.value("dataset_version", "");
    i.seed = j.value("seed", std::uint64_t{0});
    i.created = j.value("created", "");
    i.wms_version = j.value("wms_version", "");
    i.metrics = j.value("metrics", nlohmann::json::object());
    i.params = j.value("params", nlohmann::json::object());
    return i;
  } catch (const nlohmann::json::exception& e) {
    throw Corrupt("{}: model metadata is incomplete ({})", source, e.what());
  }
}

Model::Model(const ModelConfig& config, std::uint64_t seed) {
  torch::manual_seed(seed);
  impl_ = make_impl(config);
  impl_->info.seed = seed;
}

bool looks_like_bundle(std::string_view head) {
  return head.size() >= sizeof kMagic && std::memcmp(head.data(), kMagic, sizeof kMagic) == 0;
}

std::string Model::to_bytes() const {
  std::string json = impl_->info.to_json().dump();
  std::string weights = write_pth(state_tensors(*impl_->net));
  std::string out(kMagic, sizeof kMagic);
  put_le(out, kFormat, 4);
  put_le(out, json.size(), 8);
  out += json;
  put_le(out, weights.size(), 8);
  out += weights;
  out += raw_sha256(out);
  return out;
}

Model Model::from_bytes(std::string_view b, const std::string& source) {
  if (!looks_like_bundle(b)) {
    if (b.size() >= 2 && b[0] == 'P' && b[1] == 'K')
      throw Corrupt("{}: this is a PyTorch .pth file, not a wms model bundle; convert it with `wms model import`",
                    source);
    throw Corrupt("{}: not a wms model bundle (wrong signature)", source);
  }
  const std::size_t head = sizeof kMagic + 4 + 8;
  if (b.size() < head + 8 + 32) throw Corrupt("{}: model bundle is truncated ({} bytes)", source, b.size());
  if (get_le(b, sizeof kMagic, 4) != kFormat)
    throw Corrupt("{}: model bundle format {} is not supported by this wms (format {})", source,
                  get_le(b, sizeof kMagic, 4), kFormat);
  std::uint64_t n = get_le(b, sizeof kMagic + 4, 8);
  if (n > b.size() - head - 8 - 32) throw Corrupt("{}: model bundle is truncated", source);
  std::uint64_t m = get_le(b, head + n, 8);
  if (m != b.size() - head - n - 8 - 32) throw Corrupt("{}: model bundle is truncated or has trailing bytes", source);
  std::string_view body = b.substr(0, b.size() - 32);
  if (raw_sha256(body) != b.substr(b.size() - 32))
    throw Corrupt("{}: model bundle checksum mismatch (the file is damaged)", source);
  auto j = nlohmann::json::parse(b.substr(head, n), nullptr, false);
  if (j.is_discarded()) throw Corrupt("{}: model metadata is not JSON", source);
  ModelInfo info = ModelInfo::from_json(j, source);
  auto impl = make_impl(info.config);
  try {
    load_state(*impl->net, read_pth(b.substr(head + n + 8, m), source).tensors, source);
  } catch (const InvalidInput& e) {
    throw Corrupt("{} (inside a model bundle)", e.what());  // a bundle wms wrote: damaged, not the user's input
  }
  impl->info = info;
  impl->net->eval();
  return Model(impl);
}

Model Model::load(const std::filesystem::path& bundle) {
  std::error_code ec;
  if (!std::filesystem::exists(bundle, ec)) throw NotFound("{}: no such model bundle", bundle.string());
  try {
    return from_bytes(util::read_file(bundle, 4ull << 30), bundle.string());
  } catch (const Corrupt& e) {
    throw InvalidInput("{}", e.what());  // the user's file, not wms's store
  }
}

void Model::save(const std::filesystem::path& bundle) const {
  util::atomic_write(bundle, to_bytes());
}

Model Model::import_state_dict(const std::filesystem::path& pth, const ModelConfig& config) {
  std::error_code ec;
  if (!std::filesystem::exists(pth, ec)) throw NotFound("{}: no such file", pth.string());
  std::string bytes = util::read_file(pth, 4ull << 30);
  if (looks_like_bundle(bytes))
    throw InvalidInput("{}: a wms model bundle, not a .pth: use it as it is (`wms model export` writes a .pth)",
                       pth.string());
  auto impl = make_impl(config);
  PthContents contents = read_pth(bytes, pth.string());
  // Prefixes that wrappers add to every key: nn.DataParallel and DistributedDataParallel
  // ("module."), torch.compile ("_orig_mod.").
  std::string notes = contents.note;
  for (const std::string prefix : {"module.", "_orig_mod."}) {
    bool all = !contents.tensors.empty();
    for (const auto& [k, _] : contents.tensors) all &= k.starts_with(prefix);
    if (!all) continue;
    for (auto& [k, _] : contents.tensors) k.erase(0, prefix.size());
    notes += fmt::format(
        "{}stripped the '{}' prefix of every key ({})", notes.empty() ? "" : "; ", prefix,
        prefix == "module." ? "saved from nn.DataParallel or DistributedDataParallel" : "saved from torch.compile");
  }
  load_state(*impl->net, contents.tensors, pth.string());
  impl->net->eval();
  if (!notes.empty()) impl->info.params["imported_note"] = notes;
  impl->info.params["imported_from"] = pth.filename().string();
  impl->info.params["imported_md5"] = util::md5_hex(bytes);
  return Model(impl);
}

void Model::export_state_dict(const std::filesystem::path& pth) const {
  util::atomic_write(pth, write_pth(state_tensors(*impl_->net)));
}

Model Model::clone() const {
  return from_bytes(to_bytes(), "(clone)");
}

ModelInfo& Model::info() {
  return impl_->info;
}
const ModelInfo& Model::info() const {
  return impl_->info;
}

std::int64_t Model::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

}  // namespace wms::nn
