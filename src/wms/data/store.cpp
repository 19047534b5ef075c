#include "wms/data/store.hpp"

#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {

fs::path Store::object_path(std::string_view md5) const {
  std::string s(md5);
  if (s.size() < 3) throw InvalidInput("'{}' is not an md5", s);
  return root_ / "files" / "md5" / s.substr(0, 2) / s.substr(2);
}

bool Store::has(std::string_view md5) const {
  std::error_code ec;
  return fs::is_regular_file(object_path(md5), ec);
}

void Store::put_file(const fs::path& src, const std::string& expected_md5) const {
  if (has(expected_md5)) return;
  fs::path dst = object_path(expected_md5);
  util::make_dirs(dst.parent_path());
  // Hash what is actually stored, not what was read earlier.
  std::string bytes = util::read_file(src);
  std::string got = util::md5_hex(bytes);
  if (got != expected_md5)
    throw Conflict("{}: changed while being added (md5 {} at validation, {} now); run the command again", src.string(),
                   expected_md5, got);
  util::atomic_write(dst, bytes, 0444);
  util::failpoint("store.after_put");
}

std::string Store::put_bytes(std::string_view bytes) const {
  std::string md5 = util::md5_hex(bytes);
  if (!has(md5)) {
    fs::path dst = object_path(md5);
    util::make_dirs(dst.parent_path());
    util::atomic_write(dst, bytes, 0444);
  }
  return md5;
}

void Store::put_object(std::string_view name, std::string_view bytes) const {
  const bool dir = name.ends_with(".dir");
  std::string_view md5 = dir ? name.substr(0, name.size() - 4) : name;
  std::string actual = util::md5_hex(bytes);
  if (!util::is_md5_hex(md5) || actual != md5)
    throw Corrupt("object {}: its bytes hash to {} (not stored)", name, actual);
  if (dir) parse_dir_json(bytes, std::string(name));
  if (has(name)) return;
  fs::path dst = object_path(name);
  util::make_dirs(dst.parent_path());
  util::atomic_write(dst, bytes, 0444);
}

std::string Store::put_listing(const Listing& listing) const {
  std::string text = dir_json(listing);
  std::string id = util::md5_hex(text) + ".dir";
  if (!has(id)) {
    fs::path dst = object_path(id);
    util::make_dirs(dst.parent_path());
    util::atomic_write(dst, text, 0444);
  }
  return id;
}

std::string Store::read(std::string_view md5) const {
  fs::path p = object_path(md5);
  if (!has(md5)) throw NotFound("{}: object {} is not in the store", p.string(), md5);
  std::string bytes = util::read_file(p);
  std::string want(md5.substr(0, 32));
  if (util::md5_hex(bytes) != want)
    throw Corrupt("{}: stored object does not match its md5 (disk damage?)", p.string());
  return bytes;
}

Listing Store::read_listing(std::string_view dir_md5) const {
  Listing l = parse_dir_json(read(dir_md5), object_path(dir_md5).string());
  for (auto& e : l) {
    std::error_code ec;
    auto size = fs::file_size(object_path(e.md5), ec);
    if (ec)
      throw Corrupt("{}: lists {} ({}), which is not in the store", object_path(dir_md5).string(), e.relpath, e.md5);
    e.size = size;
  }
  return l;
}

}  // namespace wms::data
