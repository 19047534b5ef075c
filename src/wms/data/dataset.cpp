#include "wms/data/dataset.hpp"

#include <fmt/chrono.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <set>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

// The data files under a checked-out folder, recursively, by '/'-separated relpath;
// names that batches ignore (dot-files, OS junk) are not data here either.
std::map<std::string, fs::path> data_files(const fs::path& dir) {
  std::map<std::string, fs::path> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (ignored_by_rule(it->path().filename().string())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out[it->path().lexically_relative(dir).generic_string()] = it->path();
  }
  return out;
}

}  // namespace

Version version_from_json(const nlohmann::json& j, const std::string& source) {
  try {
    Version v;
    v.id = j.at("id").get<std::string>();
    v.images = j.at("images").get<std::string>();
    v.masks = j.at("masks").get<std::string>();
    v.parent = j.value("parent", "");
    v.created = j.value("created", "");
    v.message = j.value("message", "");
    v.pairs = j.value("pairs", 0);
    v.bytes = j.value("bytes", 0);
    return v;
  } catch (const nlohmann::json::exception& e) {
    throw Corrupt("{}: not a dataset version record ({})", source, e.what());
  }
}

std::string version_id(const std::string& images, const std::string& masks) {
  return util::md5_hex(images + "\n" + masks + "\n");
}

nlohmann::json Version::to_json() const {
  return {{"id", id},           {"images", images},   {"masks", masks}, {"parent", parent},
          {"created", created}, {"message", message}, {"pairs", pairs}, {"bytes", bytes}};
}

std::optional<Version> Dataset::head() const {
  fs::path p = ws_.head_file();
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  std::string id = util::read_file(p, 256);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (!util::is_md5_hex(id)) throw Corrupt("{}: does not hold a version id", p.string());
  return get(id);
}

Version Dataset::get(const std::string& ref) const {
  if (ref == "head" || ref == "HEAD") {
    auto h = head();
    if (!h) throw NotFound("the workspace has no dataset version yet (run `wms data add`)");
    return *h;
  }
  if (ref.empty() || ref.size() > 32 || ref.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw InvalidInput("'{}' is not a dataset version id (hex digits, or 'head')", ref);
  fs::path dir = ws_.versions_dir();
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() == 37 && name.ends_with(".json") && name.compare(0, ref.size(), ref) == 0)
      found.push_back(it->path());
  }
  if (found.empty()) throw NotFound("dataset version '{}' does not exist (see `wms data log`)", ref);
  if (found.size() > 1)
    throw InvalidInput("dataset version '{}' is ambiguous ({} matches); give more digits", ref, found.size());
  std::string text = util::read_file(found[0], 1 << 20);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Corrupt("{}: not valid JSON", found[0].string());
  return version_from_json(j, found[0].string());
}

std::vector<Version> Dataset::log() const {
  std::vector<Version> out;
  auto v = head();
  std::set<std::string> seen;
  while (v && seen.insert(v->id).second) {
    out.push_back(*v);
    if (v->parent.empty()) break;
    v = get(v->parent);
  }
  return out;
}

std::vector<Sample> Dataset::samples(const Version& v) const {
  SplitFractions f = split_fractions(ws_.config());
  Listing imgs = images(v), msks = masks(v);
  std::map<std::string, const Entry*> mask_by_stem;
  for (const auto& m : msks) mask_by_stem[pair_key(m.relpath)] = &m;
  std::vector<Sample> out;
  for (const auto& i : imgs) {
    auto it = mask_by_stem.find(pair_key(i.relpath));
    if (it == mask_by_stem.end()) throw Corrupt("dataset version {}: images/{} has no mask", v.short_id(), i.relpath);
    out.push_back({pair_key(i.relpath), i, *it->second, split_of(i.md5, f)});
  }
  return out;
}

Diff Dataset::diff(const Version& a, const Version& b) const {
  Diff d;
  auto side = [&](const Listing& la, const Listing& lb, const std::string& prefix) {
    std::map<std::string, std::string> ma, mb;
    for (const auto& e : la) ma[e.relpath] = e.md5;
    for (const auto& e : lb) mb[e.relpath] = e.md5;
    for (const auto& [p, m] : mb) {
      auto it = ma.find(p);
      if (it == ma.end())
        d.added.push_back(prefix + p);
      else if (it->second != m)
        d.changed.push_back(prefix + p);
    }
    for (const auto& [p, m] : ma)
      if (!mb.count(p)) d.removed.push_back(prefix + p);
  };
  side(images(a), images(b), "images/");
  side(masks(a), masks(b), "masks/");
  return d;
}

Version Dataset::stage(const std::optional<Version>& base, const std::vector<ValidPair>& pairs,
                       const std::string& message) const {
  Listing imgs, msks;
  if (base) {
    imgs = images(*base);
    msks = masks(*base);
  }
  for (const auto& p : pairs) {
    if (p.status != PairStatus::kNew) continue;
    if (!store_.has(p.image.md5) || !store_.has(p.mask.md5))
      throw Internal("stage: objects of pair {} are not in the store", p.stem);
    imgs.push_back({p.image.name, p.image.md5, p.image.size});
    msks.push_back({p.mask.name, p.mask.md5, p.mask.size});
  }
  sort_listing(imgs);
  sort_listing(msks);
  return record(store_.put_listing(imgs), store_.put_listing(msks), base, message);
}

Version Dataset::record(const std::string& images_dir, const std::string& masks_dir, const std::optional<Version>& parent,
                        const std::string& message) const {
  Version v;
  v.images = images_dir;
  v.masks = masks_dir;
  v.id = version_id(v.images, v.masks);
  if (has(v.id)) return get(v.id);  // same content: the same, immutable version
  v.parent = parent ? parent->id : "";
  v.created = util::utc_now();
  v.message = message;
  auto imgs = images(v), msks = masks(v);
  v.pairs = imgs.size();
  for (const auto& e : imgs) v.bytes += e.size;
  for (const auto& e : msks) v.bytes += e.size;
  fs::path file = ws_.versions_dir() / (v.id + ".json");
  util::make_dirs(file.parent_path());
  util::atomic_write(file, v.to_json().dump(2) + "\n");
  return v;
}

void Dataset::import_record(const Version& v, const std::string& source) const {
  if (v.id != version_id(v.images, v.masks))
    throw Corrupt("{}: version id {} is not the md5 of its listings {} and {}", source, v.id, v.images, v.masks);
  for (const auto& dir : {v.images, v.masks})
    if (!store_.has(dir)) throw Corrupt("{}: listing {} of version {} is not in the store", source, dir, v.short_id());
  if (has(v.id)) return;
  fs::path file = ws_.versions_dir() / (v.id + ".json");
  util::make_dirs(file.parent_path());
  util::atomic_write(file, v.to_json().dump(2) + "\n");
}

bool Dataset::has(const std::string& id) const {
  std::error_code ec;
  return util::is_md5_hex(id) && fs::exists(ws_.versions_dir() / (id + ".json"), ec);
}

void Dataset::set_head(const Version& v, const std::string& action) const {
  auto old = head();
  util::make_dirs(ws_.head_log().parent_path());
  util::atomic_write(ws_.head_file(), v.id + "\n");
  util::failpoint("dataset.after_head");
  nlohmann::json line = {{"time", util::utc_now()}, {"from", old ? old->id : ""}, {"to", v.id}, {"action", action}};
  util::append_line(ws_.head_log(), line.dump());
}

void Dataset::accept(const Version& v, const std::string& action) const {
  if (auto h = head(); !h || h->id != v.id) set_head(v, action);
  util::failpoint("dataset.after_accept_head");
  checkout(v);
}

void Dataset::checkout(const Version& v) const {
  struct Side {
    fs::path dir;
    Listing listing;
    std::set<std::pair<std::string, std::string>> ever;  // (relpath, md5) of every version
  };
  std::vector<Side> sides = {Side{ws_.images_dir(), images(v), {}}, Side{ws_.masks_dir(), masks(v), {}}};
  // A file that no version ever held under that name and content is the user's: kept.
  std::error_code ec;
  for (fs::directory_iterator it(ws_.versions_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    std::string id = it->path().stem().string();
    if (it->path().extension() != ".json" || !util::is_md5_hex(id)) continue;
    Version other = get(id);
    for (const auto& e : images(other)) sides[0].ever.emplace(e.relpath, e.md5);
    for (const auto& e : masks(other)) sides[1].ever.emplace(e.relpath, e.md5);
  }
  for (Side& side : sides) {
    util::make_dirs(side.dir);
    std::set<std::string> wanted;
    for (const auto& e : side.listing) {
      wanted.insert(e.relpath);
      fs::path dst = side.dir / e.relpath;
      std::error_code ec;
      if (fs::is_regular_file(dst, ec) && fs::file_size(dst, ec) == e.size && util::md5_file(dst) == e.md5) continue;
      util::make_dirs(dst.parent_path());
      util::atomic_copy(store_.object_path(e.md5), dst, 0644);
    }
    for (const auto& [rel, path] : data_files(side.dir)) {
      // Only a file a version put there, unchanged (so the store can restore it).
      if (wanted.count(rel) || !side.ever.count({rel, util::md5_file(path)})) continue;
      fs::remove(path, ec);
      for (fs::path d = path.parent_path(); d != side.dir && fs::is_empty(d, ec); d = d.parent_path())
        fs::remove(d, ec);  // folders that only held removed files
    }
  }
  for (const auto& [rel, text] : pointer_files(v)) util::atomic_write(ws_.root() / rel, text);
}

std::map<std::string, std::string> Dataset::pointer_files(const Version& v) const {
  std::map<std::string, std::string> out;
  for (auto [dir, dir_md5] : {std::pair{ws_.images_dir(), v.images}, std::pair{ws_.masks_dir(), v.masks}}) {
    Listing l = store_.read_listing(dir_md5);
    std::uint64_t total = 0;
    for (const auto& e : l) total += e.size;
    DvcOut o{dir_md5, total, l.size(), dir.filename().string()};
    out[fs::relative(fs::path(dir.string() + ".dvc"), ws_.root()).string()] = dvc_file_text(o);
  }
  return out;
}

WorkingState Dataset::working_state() const {
  WorkingState s;
  auto h = head();
  struct Side {
    fs::path dir;
    std::string prefix;
    Listing listing;
    std::string dir_md5;
  };
  std::vector<Side> sides;
  sides.push_back({ws_.images_dir(), "images/", h ? images(*h) : Listing{}, h ? h->images : ""});
  sides.push_back({ws_.masks_dir(), "masks/", h ? masks(*h) : Listing{}, h ? h->masks : ""});
  for (const auto& side : sides) {
    std::map<std::string, std::string> want;
    for (const auto& e : side.listing) want[e.relpath] = e.md5;
    std::error_code ec;
    std::set<std::string> present;
    for (const auto& [name, path] : data_files(side.dir)) {
      present.insert(name);
      auto w = want.find(name);
      if (w == want.end())
        s.untracked.push_back(side.prefix + name);
      else if (util::md5_file(path) != w->second)
        s.modified.push_back(side.prefix + name);
    }
    for (const auto& [name, md5] : want)
      if (!present.count(name)) s.missing.push_back(side.prefix + name);
    if (h) {
      fs::path dvc(side.dir.string() + ".dvc");
      if (!fs::exists(dvc, ec)) {
        s.pointers_current = false;
      } else {
        try {
          s.pointers_current &= parse_dvc_file(util::read_file(dvc, 1 << 20), dvc.string()).md5 == side.dir_md5;
        } catch (const Corrupt&) {
          s.pointers_current = false;
        }
      }
    }
  }
  return s;
}

}  // namespace wms::data
