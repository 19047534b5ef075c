#include "wms/data/remote.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"
#include "wms/util/options.hpp"
#include "wms/util/parallel.hpp"

namespace wms::data {

const util::Names<Addressing> kAddressingNames{
    {{Addressing::kAuto, "auto"}, {Addressing::kPath, "path"}, {Addressing::kVirtual, "virtual"}}};

namespace {

// DVC's options that hold secrets: they belong in the environment or a profile.
constexpr const char* kSecretOptions[] = {"access_key_id", "secret_access_key", "session_token", "sse_customer_key"};

bool is_secret(const std::string& option) {
  return std::any_of(std::begin(kSecretOptions), std::end(kSecretOptions), [&](const char* s) { return option == s; });
}

[[noreturn]] void refuse_secret(const std::string& where) {
  throw InvalidInput(
      "{}: credentials are never kept in wms.yaml (it is committed); set AWS_ACCESS_KEY_ID and "
      "AWS_SECRET_ACCESS_KEY, or name a profile of ~/.aws/credentials (remote option 'profile')",
      where);
}

// An endpoint is scheme://host[:port]: a path would be signed but not be the bucket's,
// and a user:password@ would put a secret into the committed wms.yaml.
std::optional<std::string> endpoint_problem(const std::string& u) {
  if (u.empty()) return std::nullopt;
  std::size_t scheme = u.rfind("http://", 0) == 0 ? 7 : u.rfind("https://", 0) == 0 ? 8 : 0;
  if (!scheme) return "must start with http:// or https://";
  std::string host = u.substr(scheme);
  if (!host.empty() && host.back() == '/') host.pop_back();
  if (host.empty()) return "must name a host after the scheme";
  if (host.find('@') != std::string::npos)
    return "must not hold a user or password (credentials never go into wms.yaml)";
  if (host.find_first_of("/?#") != std::string::npos)
    return "must be scheme://HOST[:PORT] only, without a path or query";
  for (unsigned char c : host)
    if (c <= 0x20 || c == 0x7f) return "must not hold spaces or control characters";
  return std::nullopt;
}

// Throws InvalidInput "WHERE.OPTION: not a remote option (options: ...)" for an unknown one.
void require_known_option(const std::string& where, const std::string& option) {
  const auto& rows = remote_option_table().rows();
  if (std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r.key == option; })) return;
  std::vector<std::string> keys;
  for (const auto& r : rows) keys.push_back(r.key);
  throw InvalidInput("{}.{}: not a remote option (options: {})", where, option, fmt::join(keys, ", "));
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string bare(const std::string& object) {
  return object.ends_with(".dir") ? object.substr(0, object.size() - 4) : object;
}

// A remote's options as wms.yaml holds them: only what differs from the defaults.
nlohmann::ordered_json stored_options(const RemoteConfig& r) {
  const auto& table = remote_option_table();
  nlohmann::json now = table.record(r), defaults = table.record(RemoteConfig{});
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& row : table.rows())
    if (row.key == "url" || now[row.param] != defaults[row.param]) out[row.key] = now[row.param];
  return out;
}

void write_remotes(const Workspace& ws, const std::vector<RemoteConfig>& remotes) {
  nlohmann::ordered_json section = nlohmann::ordered_json::object();
  for (const auto& r : remotes) section[r.name] = stored_options(r);
  util::write_yaml_section(ws.config_path(), "remote", remotes.empty() ? nlohmann::ordered_json() : section);
}

std::vector<RemoteConfig> all_remotes(const util::Config& c) {
  std::vector<RemoteConfig> out;
  for (const auto& n : remote_names(c)) out.push_back(remote_config(c, n));
  return out;
}

// A listing's entries, whether or not its files are in the store yet (sizes unknown).
Listing entries_of(const Store& store, const std::string& dir) {
  return parse_dir_json(store.read(dir), store.object_path(dir).string());
}

std::string human_bytes(std::uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.1f} GB", b / 1073741824.0);
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MB", b / 1048576.0);
  return fmt::format("{:.1f} kB", b / 1024.0);
}

}  // namespace

const util::OptionTable<RemoteConfig>& remote_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<RemoteConfig>()
          .add("url", "url", WMS_MEMBER(url), "s3://bucket/prefix",
               util::Check<std::string>([](const std::string& u) -> std::optional<std::string> {
                 try {
                   parse_s3_url(u);
                   return std::nullopt;
                 } catch (const InvalidInput&) {
                   return "must be s3://BUCKET[/PREFIX] with an S3 bucket name";
                 }
               }),
               "s3://BUCKET[/PREFIX]")
          .add("endpointurl", "endpointurl", WMS_MEMBER(endpointurl), "the server, for storage other than AWS",
               util::Check<std::string>(endpoint_problem), "http(s)://HOST[:PORT], no path, no user:password@")
          .add("region", "region", WMS_MEMBER(region), "the bucket's region (default: AWS_REGION, the profile's)",
               util::Check<std::string>([](const std::string& r) -> std::optional<std::string> {
                 if (r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos)
                   return std::nullopt;
                 return "must be a region name such as us-east-1 (a-z, 0-9, '-')";
               }))
          .add("profile", "profile", WMS_MEMBER(profile), "a profile of the AWS credentials file")
          .add("credentialpath", "credentialpath", WMS_MEMBER(credentialpath), "the AWS credentials file")
          .add("addressing_style", "addressing_style", WMS_MEMBER(addressing_style),
               "auto: path-style with an endpointurl", kAddressingNames)
          .add("ssl_verify", "ssl_verify", WMS_MEMBER(ssl_verify), "check the server's TLS certificate")
          .add("jobs", "jobs", WMS_MEMBER(jobs), "parallel connections; 0 = 4 x cores", Range::closed(0, 256))
          .add("connect_timeout", "connect_timeout", WMS_MEMBER(connect_timeout), "seconds", Range::above(0))
          .add("read_timeout", "read_timeout", WMS_MEMBER(read_timeout), "seconds for one request", Range::above(0))
          .add("retries", "retries", WMS_MEMBER(retries), "after a 5xx, 429 or lost connection", Range::closed(0, 20));
  return t;
}

std::vector<std::string> remote_names(const util::Config& c) {
  return c.children("remote");
}

std::string default_remote_name(const util::Config& c) {
  return c.get_string("core.remote", "");
}

RemoteConfig remote_config(const util::Config& c, const std::string& name_or_default) {
  std::string name = name_or_default.empty() ? default_remote_name(c) : name_or_default;
  auto names = remote_names(c);
  if (name.empty())
    throw NotFound(
        "{}: no default remote (core.remote); add one with `wms remote add --default NAME s3://BUCKET/PREFIX`",
        c.source());
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw NotFound("{}: no remote '{}' (configured: {})", c.source(), name,
                   names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")));
  util::Config section = c.sub("remote." + name);
  const auto& table = remote_option_table();
  for (const auto& key : section.children("")) {
    if (is_secret(key)) refuse_secret(fmt::format("{}: remote.{}.{}", c.source(), name, key));
    require_known_option(c.source() + ": remote." + name, key);
  }
  RemoteConfig r;
  r.name = name;
  table.read(r, section);
  if (r.url.empty()) throw InvalidInput("{}: remote.{}.url: required (s3://BUCKET[/PREFIX])", c.source(), name);
  return r;
}

void add_remote(const Workspace& ws, const RemoteConfig& remote, bool make_default) {
  if (!valid_name(remote.name))
    throw InvalidInput("remote name '{}': must be 1 to 64 of A-Z, a-z, 0-9, '-' and '_'", remote.name);
  remote_option_table().validate(remote, "wms remote add " + remote.name);
  util::Config c = util::Config::load(ws.config_path());
  auto remotes = all_remotes(c);
  for (const auto& r : remotes)
    if (r.name == remote.name)
      throw Conflict("{}: remote '{}' exists already ({}); `wms remote modify` changes it", c.source(), r.name, r.url);
  remotes.push_back(remote);
  write_remotes(ws, remotes);
  if (make_default || default_remote_name(c).empty()) set_default_remote(ws, remote.name);
}

void modify_remote(const Workspace& ws, const std::string& name, const std::string& option, const std::string& value) {
  if (is_secret(option)) refuse_secret("remote." + name + "." + option);
  util::Config c = util::Config::load(ws.config_path());
  auto remotes = all_remotes(c);
  auto it = std::find_if(remotes.begin(), remotes.end(), [&](const auto& r) { return r.name == name; });
  if (it == remotes.end()) remote_config(c, name);  // throws NotFound with the list
  const auto& table = remote_option_table();
  require_known_option("remote." + name, option);
  // The value is read as YAML would read it in wms.yaml, then checked by the table.
  // Booleans and numbers as written; anything else as a quoted string (a ':' or '#' in a
  // URL must not be read as YAML syntax).
  bool literal = value == "true" || value == "false" || value.find_first_not_of("0123456789.") == std::string::npos;
  util::Config one = util::Config::parse(option + ": " + (literal ? value : nlohmann::json(value).dump()) + "\n",
                                         fmt::format("wms remote modify {} {}", name, option));
  table.read(*it, one);
  write_remotes(ws, remotes);
}

void set_default_remote(const Workspace& ws, const std::string& name) {
  util::Config c = util::Config::load(ws.config_path());
  remote_config(c, name);  // exists
  nlohmann::ordered_json core = nlohmann::ordered_json::object();
  for (const auto& [k, v] : c.get_string_map("core")) core[k] = v;
  core["remote"] = name;
  util::write_yaml_section(ws.config_path(), "core", core);
}

void remove_remote(const Workspace& ws, const std::string& name) {
  util::Config c = util::Config::load(ws.config_path());
  remote_config(c, name);  // throws NotFound
  auto remotes = all_remotes(c);
  remotes.erase(std::remove_if(remotes.begin(), remotes.end(), [&](const auto& r) { return r.name == name; }),
                remotes.end());
  write_remotes(ws, remotes);
  if (default_remote_name(c) == name) {
    nlohmann::ordered_json core = nlohmann::ordered_json::object();
    for (const auto& [k, v] : c.get_string_map("core"))
      if (k != "remote") core[k] = v;
    util::write_yaml_section(ws.config_path(), "core", core.empty() ? nlohmann::ordered_json() : core);
  }
}

nlohmann::json TransferSummary::to_json() const {
  return {{"transferred", transferred}, {"present", present},   {"bytes", bytes},    {"missing", missing},
          {"corrupt", corrupt},         {"requests", requests}, {"seconds", seconds}};
}

std::string TransferSummary::text(const std::string& verb) const {
  std::string out = verb == "verified" ? fmt::format("verified {} objects in {:.1f} s: {} present and intact",
                                                     present + missing.size() + corrupt.size(), seconds, present)
                                       : fmt::format("{} {} objects ({}) in {:.1f} s, {} already there", verb,
                                                     transferred, human_bytes(bytes), seconds, present);
  if (!missing.empty()) out += fmt::format("\n{} missing:", missing.size());
  for (const auto& m : missing) out += "\n  " + m;
  if (!corrupt.empty()) out += fmt::format("\n{} corrupt{}:", corrupt.size(), verb == "pulled" ? " (not stored)" : "");
  for (const auto& m : corrupt) out += "\n  " + m;
  return out;
}

VersionObjects version_objects(const Workspace& ws, const Version& v) {
  Store store = ws.store();
  VersionObjects o{v.id, {v.images, v.masks}, {}};
  std::set<std::string> seen;
  for (const auto& dir : o.dirs)
    for (const auto& e : entries_of(store, dir))
      if (seen.insert(e.md5).second) o.files.push_back(e.md5);
  return o;
}

// Clients to borrow, one per worker; each keeps its connection alive.
struct Remote::Pool {
  S3Options options;
  std::string bucket;
  std::mutex mu;
  std::vector<std::unique_ptr<S3Client>> idle;
  std::atomic<std::uint64_t> requests{0};

  struct Lease {
    Pool& pool;
    std::unique_ptr<S3Client> client;
    ~Lease() {
      std::lock_guard lock(pool.mu);
      pool.idle.push_back(std::move(client));
    }
    S3Client& operator*() { return *client; }
    S3Client* operator->() { return client.get(); }
  };
  Lease borrow() {
    std::lock_guard lock(mu);
    if (idle.empty()) return Lease{*this, std::make_unique<S3Client>(options, bucket)};
    auto c = std::move(idle.back());
    idle.pop_back();
    return Lease{*this, std::move(c)};
  }
  // Requests sent by every client so far (all are idle between transfers).
  std::uint64_t total_requests() {
    std::lock_guard lock(mu);
    std::uint64_t n = 0;
    for (auto& c : idle) n += c->requests();
    return n;
  }
};

Remote::Remote(const Workspace& ws, RemoteConfig config) : ws_(ws), config_(std::move(config)) {
  url_ = parse_s3_url(config_.url);
  s3_.endpoint = config_.endpointurl;
  if (s3_.endpoint.empty()) {
    const char* e = std::getenv("AWS_ENDPOINT_URL_S3");
    if (!e || !*e) e = std::getenv("AWS_ENDPOINT_URL");
    if (e && *e) s3_.endpoint = e;
  }
  s3_.region = config_.region.empty() ? find_region(config_.profile) : config_.region;
  s3_.path_style = config_.addressing_style == Addressing::kPath ||
                   (config_.addressing_style == Addressing::kAuto && !s3_.endpoint.empty());
  s3_.ssl_verify = config_.ssl_verify;
  s3_.connect_timeout_seconds = config_.connect_timeout;
  s3_.timeout_seconds = config_.read_timeout;
  s3_.retries = config_.retries;
  s3_.label = config_.label();
  try {
    s3_.credentials = find_credentials(config_.profile, config_.credentialpath);
  } catch (const InvalidInput& e) {
    throw InvalidInput("{}: {}", config_.label(), e.what());
  }
  pool_ = std::make_unique<Pool>();
  pool_->options = s3_;
  pool_->bucket = url_.bucket;
}

Remote::~Remote() = default;
Remote::Remote(Remote&&) noexcept = default;

std::vector<std::string> Remote::keys_for(const std::string& object) const {
  // DVC 3 reads a 2.x project's objects from the legacy layout only; wms tries both, the
  // likelier first.
  if (prefer_legacy_) return {key_of(object, true), key_of(object)};
  return {key_of(object), key_of(object, true)};
}

std::string Remote::key_of(const std::string& object, bool legacy) const {
  std::string base = url_.prefix.empty() ? "" : url_.prefix + "/";
  return base + (legacy ? "" : "files/md5/") + object.substr(0, 2) + "/" + object.substr(2);
}

namespace {

std::string record_key(const S3Url& u, const std::string& id) {
  return (u.prefix.empty() ? "" : u.prefix + "/") + "wms/versions/" + id + ".json";
}

// Runs f(client, i) for i in [0, n) on `jobs` workers, stopping at should_stop.
template <class Pool, class F>
void run_jobs(Pool& pool, std::size_t n, int jobs, const std::function<bool()>& should_stop, F f) {
  unsigned workers = jobs > 0 ? static_cast<unsigned>(jobs) : 4 * util::available_cores();
  util::parallel_for(n, std::min<unsigned>(workers, std::max<std::size_t>(n, 1)), [&](std::size_t i) {
    if (should_stop && should_stop()) throw Cancelled("interrupted; what was transferred stays, rerun to finish");
    auto client = pool.borrow();
    f(*client, i);
  });
}

}  // namespace

VersionObjects Remote::objects_of(const Version& v) const {
  return version_objects(ws_, v);
}

// What a push must do: the listings it sends, which of them (and of their parents') the
// remote has, and the files it must ask about.
struct Remote::PushPlan {
  std::vector<std::string> dirs;                    // the versions' listings
  std::vector<std::vector<std::string>> dir_files;  // their files
  std::vector<char> dir_there;                      // dirs[i] is on the remote
  std::vector<std::string> check;                   // files to ask about (or send)
};

Remote::PushPlan Remote::plan_push(const std::vector<Version>& versions, const std::vector<std::string>& objects,
                                   bool full, TransferSummary& s) {
  Store store = ws_.store();
  PushPlan plan;
  for (const auto& v : versions)
    for (const auto& dir : {v.images, v.masks}) {
      if (std::find(plan.dirs.begin(), plan.dirs.end(), dir) != plan.dirs.end()) continue;
      plan.dirs.push_back(dir);
      std::vector<std::string> files;
      for (const auto& e : entries_of(store, dir)) files.push_back(e.md5);
      plan.dir_files.push_back(std::move(files));
    }
  // A listing already on the remote stands for its files (it went up after them); so
  // do the listings of the versions' parents, which hold most of a new version's files.
  std::vector<std::string> probes = plan.dirs;
  Dataset ds(ws_);
  for (const auto& v : versions)
    if (!v.parent.empty() && ds.has(v.parent)) {
      auto parent = ds.get(v.parent);
      for (const auto& dir : {parent.images, parent.masks})
        if (std::find(probes.begin(), probes.end(), dir) == probes.end() && store.has(dir)) probes.push_back(dir);
    }
  std::vector<char> there(probes.size(), 0);
  run_jobs(*pool_, probes.size(), config_.jobs, should_stop,
           [&](S3Client& c, std::size_t i) { there[i] = c.head(key_of(probes[i])).has_value(); });
  plan.dir_there.assign(there.begin(), there.begin() + static_cast<std::ptrdiff_t>(plan.dirs.size()));
  std::set<std::string> covered, wanted(objects.begin(), objects.end());
  for (const auto& files : plan.dir_files) wanted.insert(files.begin(), files.end());
  for (std::size_t i = 0; i < probes.size() && !full; ++i)  // --full trusts no listing
    if (there[i])
      for (const auto& e : entries_of(store, probes[i])) covered.insert(e.md5);
  for (const auto& f : wanted) {
    if (covered.count(f))
      ++s.present;
    else
      plan.check.push_back(f);
  }
  return plan;
}

std::set<std::string> Remote::push_files(const std::vector<std::string>& check, bool full, TransferSummary& s) {
  // HEAD each, upload what is missing. When none of a first sample is there (a first
  // push), the rest are uploaded without asking: an upload of an object that is there
  // after all rewrites the same bytes under the same name.
  Store store = ws_.store();
  const std::size_t sample = full ? check.size() : std::min<std::size_t>(check.size(), 32);
  std::atomic<bool> ask_all{false};
  std::vector<char> state(check.size(), 0);  // 0 uploaded, 1 present, 2 not in the local store
  std::atomic<std::uint64_t> bytes{0}, done{0};
  auto one = [&](S3Client& c, std::size_t i) {
    const std::string key = key_of(check[i]);
    std::optional<std::uint64_t> there = (i < sample || ask_all) ? c.head(key) : std::nullopt;
    // --full also re-sends an object whose size on the remote is not its size here.
    if (there && full && store.has(check[i]) && *there != fs::file_size(store.object_path(check[i]))) there.reset();
    if (there) {
      state[i] = 1;
      ask_all = true;
    } else if (!store.has(check[i])) {
      state[i] = 2;
    } else {
      std::string body = store.read(check[i]);
      c.put(key, body);
      bytes += body.size();
      util::failpoint("remote.push.after_put");  // tests: killed mid-push
    }
    if (log && check.size() >= 200 && (++done % (check.size() / 10) == 0))
      log(fmt::format("{}: checked {}/{} objects", config_.name, done.load(), check.size()));
  };
  run_jobs(*pool_, sample, config_.jobs, should_stop, one);
  run_jobs(*pool_, check.size() - sample, config_.jobs, should_stop,
           [&](S3Client& c, std::size_t i) { one(c, sample + i); });
  std::set<std::string> failed;
  for (std::size_t i = 0; i < check.size(); ++i) {
    if (state[i] == 0) ++s.transferred;
    if (state[i] == 1) ++s.present;
    if (state[i] == 2) {
      failed.insert(check[i]);
      s.missing.push_back(check[i] + " (not in the local store)");
    }
  }
  s.bytes += bytes;
  return failed;
}

void Remote::push_listings(const PushPlan& plan, const std::vector<Version>& versions,
                           const std::set<std::string>& failed, TransferSummary& s) {
  // Listings whose files are all there, then the records of versions whose listings are.
  Store store = ws_.store();
  std::vector<char> up(plan.dirs.size(), 0);
  std::atomic<std::uint64_t> bytes{0};
  for (std::size_t i = 0; i < plan.dirs.size(); ++i) {
    const auto& files = plan.dir_files[i];
    if (plan.dir_there[i])
      ++s.present;
    else if (std::none_of(files.begin(), files.end(), [&](const auto& f) { return failed.count(f); }))
      up[i] = 1;
    else
      s.missing.push_back(plan.dirs[i] + " (not uploaded: some of its files are missing)");
  }
  run_jobs(*pool_, plan.dirs.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t i) {
    if (!up[i]) return;
    std::string body = store.read(plan.dirs[i]);
    c.put(key_of(plan.dirs[i]), body);
    bytes += body.size();
  });
  s.transferred += static_cast<std::uint64_t>(std::count(up.begin(), up.end(), 1));
  s.bytes += bytes;
  auto on_remote = [&](const std::string& d) {
    auto i = static_cast<std::size_t>(std::find(plan.dirs.begin(), plan.dirs.end(), d) - plan.dirs.begin());
    return plan.dir_there[i] || up[i];
  };
  std::vector<const Version*> records;
  for (const auto& v : versions)
    if (on_remote(v.images) && on_remote(v.masks)) records.push_back(&v);
  run_jobs(*pool_, records.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t k) {
    std::string key = record_key(url_, records[k]->id);
    if (!c.head(key)) c.put(key, records[k]->to_json().dump(2) + "\n");
  });
}

TransferSummary Remote::push(const std::vector<Version>& versions, const std::vector<std::string>& objects, bool full) {
  const std::uint64_t requests_before = pool_->total_requests();
  auto start = std::chrono::steady_clock::now();
  TransferSummary s;
  PushPlan plan = plan_push(versions, objects, full, s);
  auto failed = push_files(plan.check, full, s);
  push_listings(plan, versions, failed, s);
  s.requests = pool_->total_requests() - requests_before;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::optional<Version> Remote::record_of(const std::string& id, TransferSummary& s) {
  Dataset ds(ws_);
  if (ds.has(id)) return ds.get(id);
  if (!util::is_md5_hex(id)) {
    try {
      return ds.get(id);  // a prefix of a local version
    } catch (const NotFound&) {
      throw NotFound("{}: version '{}': give the whole 32-digit id of a version on the remote", config_.label(), id);
    }
  }
  auto c = pool_->borrow();
  std::string key = record_key(url_, id);
  try {
    std::string text = c->get(key);
    return version_from_json(nlohmann::json::parse(text), config_.label() + ": " + key);
  } catch (const NotFound&) {
    s.missing.push_back(id + " (no version record " + key + ")");
  } catch (const nlohmann::json::exception&) {
    s.corrupt.push_back(id + " (" + key + " is not a version record)");
  }
  return std::nullopt;
}

namespace {

// Fetches one object into the store, md5-checked. Returns its size, or records the
// problem in `missing`/`corrupt` (guarded by mu) and returns nullopt.
std::optional<std::size_t> fetch(S3Client& c, const Store& store, const std::string& object,
                                 const std::vector<std::string>& keys, std::mutex& mu, TransferSummary& s) {
  for (const auto& key : keys) {
    std::string body;
    try {
      body = c.get(key);
    } catch (const NotFound&) {
      continue;
    }
    if (util::md5_hex(body) != bare(object)) {
      std::lock_guard lock(mu);
      s.corrupt.push_back(fmt::format("{} ({}: its bytes hash to {})", object, key, util::md5_hex(body)));
      return std::nullopt;
    }
    try {
      store.put_object(object, body);
    } catch (const Corrupt& e) {  // a .dir that is not a listing
      std::lock_guard lock(mu);
      s.corrupt.push_back(fmt::format("{} ({}: {})", object, key, e.what()));
      return std::nullopt;
    }
    return body.size();
  }
  std::lock_guard lock(mu);
  s.missing.push_back(object + " (not on the remote: " + keys.front() + ")");
  return std::nullopt;
}

}  // namespace

TransferSummary Remote::pull(const std::vector<std::string>& version_ids, const std::vector<std::string>& objects) {
  const std::uint64_t requests_before = pool_->total_requests();
  auto start = std::chrono::steady_clock::now();
  TransferSummary s;
  Store store = ws_.store();
  Dataset ds(ws_);
  std::mutex mu;
  std::atomic<std::uint64_t> bytes{0};
  std::vector<Version> versions;
  for (const auto& id : version_ids)
    if (auto v = record_of(id, s)) versions.push_back(*v);
  // Listings first: they name the files.
  std::vector<std::string> dirs;
  for (const auto& v : versions)
    for (const auto& d : {v.images, v.masks})
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  std::vector<std::string> dirs_needed;
  for (const auto& d : dirs) {
    if (store.has(d))
      ++s.present;
    else
      dirs_needed.push_back(d);
  }
  run_jobs(*pool_, dirs_needed.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t i) {
    if (auto n = fetch(c, store, dirs_needed[i], keys_for(dirs_needed[i]), mu, s)) {
      bytes += *n;
      std::lock_guard lock(mu);
      ++s.transferred;
    }
  });
  // Files of the listings (3.x layout, then 2.x's) and the extra objects.
  std::set<std::string> wanted(objects.begin(), objects.end());
  for (const auto& d : dirs)
    if (store.has(d))
      for (const auto& e : entries_of(store, d)) wanted.insert(e.md5);
  std::vector<std::string> need;
  for (const auto& f : wanted) {
    if (store.has(f))
      ++s.present;
    else
      need.push_back(f);
  }
  std::atomic<std::uint64_t> done{0};
  run_jobs(*pool_, need.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t i) {
    if (auto n = fetch(c, store, need[i], keys_for(need[i]), mu, s)) {
      bytes += *n;
      std::lock_guard lock(mu);
      ++s.transferred;
    }
    if (log && need.size() >= 200 && (++done % (need.size() / 10) == 0))
      log(fmt::format("{}: pulled {}/{} objects", config_.name, done.load(), need.size()));
  });
  // A version is recorded locally once all its objects are here.
  for (const auto& v : versions) {
    if (ds.has(v.id)) continue;
    bool complete = store.has(v.images) && store.has(v.masks);
    if (complete)
      for (const auto& d : {v.images, v.masks})
        for (const auto& e : entries_of(store, d)) complete = complete && store.has(e.md5);
    if (complete) ds.import_record(v, config_.label());
  }
  s.bytes = bytes;
  s.requests = pool_->total_requests() - requests_before;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::optional<Version> Remote::pull_pointers(const std::string& action, TransferSummary& s) {
  const std::uint64_t requests_before = pool_->total_requests();
  auto start = std::chrono::steady_clock::now();
  Store store = ws_.store();
  std::mutex mu;
  std::string dirs[2];
  int k = 0;
  for (const auto& folder : {ws_.images_dir(), ws_.masks_dir()}) {
    fs::path pointer = folder.string() + ".dvc";
    std::error_code ec;
    if (!fs::exists(pointer, ec))
      throw NotFound(
          "{}: no dataset version here and no {} naming one to pull (add a batch, or copy the project's "
          ".dvc files)",
          ws_.root().string(), pointer.string());
    DvcOut out = parse_dvc_file(util::read_file(pointer, 1 << 20), pointer.string());
    if (!out.md5.ends_with(".dir")) throw InvalidInput("{}: points at a file, not a directory", pointer.string());
    dirs[k++] = out.md5;
    prefer_legacy_ = out.hash.empty();  // a DVC 2.x pointer: its objects are in the 2.x layout
  }
  TransferSummary part;
  std::vector<std::string> need;
  for (const auto& d : dirs) {
    if (store.has(d))
      ++part.present;
    else
      need.push_back(d);
  }
  run_jobs(*pool_, need.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t i) {
    if (auto n = fetch(c, store, need[i], keys_for(need[i]), mu, part)) {
      std::lock_guard lock(mu);
      ++part.transferred;
      part.bytes += *n;
    }
  });
  s = part;
  if (!s.ok()) return std::nullopt;
  // The files, through pull() of the listings as extra objects' owners.
  std::vector<std::string> files;
  for (const auto& d : dirs)
    for (const auto& e : entries_of(store, d)) files.push_back(e.md5);
  TransferSummary rest = pull({}, files);
  s.transferred += rest.transferred;
  s.present += rest.present;
  s.bytes += rest.bytes;
  s.missing = rest.missing;
  s.corrupt = rest.corrupt;
  s.requests = pool_->total_requests() - requests_before;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) return std::nullopt;
  // The version's own record (its lineage) when wms pushed it; else a new one.
  Dataset ds(ws_);
  TransferSummary ignored;
  if (auto pushed = record_of(version_id(dirs[0], dirs[1]), ignored)) {
    ds.import_record(*pushed, config_.label());
    return ds.get(pushed->id);
  }
  return ds.record(dirs[0], dirs[1], ds.head(), action);
}

std::vector<Remote::Status> Remote::status(const std::vector<Version>& versions) {
  Store store = ws_.store();
  std::vector<Status> out;
  for (const auto& v : versions) {
    VersionObjects o = objects_of(v);
    std::vector<std::string> all = o.dirs;
    all.insert(all.end(), o.files.begin(), o.files.end());
    std::vector<char> there(all.size(), 0);
    run_jobs(*pool_, all.size(), config_.jobs, should_stop,
             [&](S3Client& c, std::size_t i) { there[i] = c.head(key_of(all[i])).has_value(); });
    Status st{v.id, all.size(), {}, {}};
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!there[i]) st.not_on_remote.push_back(all[i]);
      if (!store.has(all[i])) st.not_local.push_back(all[i]);
    }
    out.push_back(std::move(st));
  }
  return out;
}

TransferSummary Remote::verify(const std::vector<std::string>& version_ids, bool deep) {
  const std::uint64_t requests_before = pool_->total_requests();
  auto start = std::chrono::steady_clock::now();
  TransferSummary s;
  Store store = ws_.store();
  std::mutex mu;
  for (const auto& id : version_ids) {
    auto v = record_of(id, s);
    if (!v) continue;
    // Each listing: from the remote (it is what is being verified), md5-checked; when
    // it is missing there, its files are still checked from the local copy.
    std::vector<std::pair<std::string, Entry>> entries;  // (side, entry)
    for (const auto& [side, dir] : {std::pair{"images/", v->images}, std::pair{"masks/", v->masks}}) {
      auto c = pool_->borrow();
      std::string text;
      try {
        text = c->get(key_of(dir));
      } catch (const NotFound&) {
        s.missing.push_back(dir + " (listing of version " + v->short_id() + ")");
        if (store.has(dir))
          for (auto& e : entries_of(store, dir)) entries.emplace_back(side, e);
        continue;
      }
      if (util::md5_hex(text) != bare(dir)) {
        s.corrupt.push_back(dir + " (listing of version " + v->short_id() + ": its bytes hash to " +
                            util::md5_hex(text) + ")");
        continue;
      }
      ++s.present;
      for (auto& e : parse_dir_json(text, key_of(dir))) entries.emplace_back(side, e);
    }
    run_jobs(*pool_, entries.size(), config_.jobs, should_stop, [&](S3Client& c, std::size_t i) {
      const Entry& e = entries[i].second;
      const std::string what = entries[i].first + e.relpath;
      const std::string key = key_of(e.md5);
      std::string problem;
      if (deep) {
        try {
          std::string body = c.get(key);
          if (util::md5_hex(body) != e.md5) problem = "corrupt: its bytes hash to " + util::md5_hex(body);
        } catch (const NotFound&) {
          problem = "missing";
        }
      } else if (auto size = c.head(key); !size) {
        problem = "missing";
      } else if (store.has(e.md5)) {
        auto local = fs::file_size(store.object_path(e.md5));
        if (*size != local) problem = fmt::format("corrupt: {} bytes on the remote, {} here", *size, local);
      }
      std::lock_guard lock(mu);
      if (problem.empty())
        ++s.present;
      else if (problem == "missing")
        s.missing.push_back(fmt::format("{} ({} of version {})", e.md5, what, v->short_id()));
      else
        s.corrupt.push_back(fmt::format("{} ({} of version {}; {})", e.md5, what, v->short_id(), problem));
    });
  }
  s.requests = pool_->total_requests() - requests_before;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::vector<S3Object> Remote::gc(const std::vector<std::string>& keep_versions,
                                 const std::vector<std::string>& keep_objects, bool dry_run) {
  Store store = ws_.store();
  auto c = pool_->borrow();
  std::set<std::string> keep(keep_objects.begin(), keep_objects.end());
  std::vector<std::string> versions = keep_versions;
  // Every version record on the remote counts as referenced too.
  std::string records_prefix = record_key(url_, "");
  records_prefix.resize(records_prefix.size() - 5);  // drop ".json"
  for (const auto& o : c->list(records_prefix)) {
    std::string id = o.key.substr(records_prefix.size());
    if (id.ends_with(".json")) versions.push_back(id.substr(0, id.size() - 5));
  }
  TransferSummary ignored;
  for (const auto& id : versions) {
    auto v = record_of(id, ignored);
    if (!v)
      throw Corrupt("{}: {}; nothing deleted (a version record that cannot be read may still reference objects)",
                    config_.label(), ignored.corrupt.empty() ? ignored.missing.back() : ignored.corrupt.back());
    for (const auto& dir : {v->images, v->masks}) {
      keep.insert(dir);
      std::string text = store.has(dir) ? store.read(dir) : c->get(key_of(dir));
      for (const auto& e : parse_dir_json(text, key_of(dir))) keep.insert(e.md5);
    }
  }
  std::string files_prefix = key_of("00").substr(0, key_of("00").size() - 3);  // <prefix>/files/md5/
  std::vector<S3Object> garbage;
  for (const auto& o : c->list(files_prefix)) {
    std::string rest = o.key.substr(files_prefix.size());  // "ab/cdef..."
    std::string object = rest.size() > 3 ? rest.substr(0, 2) + rest.substr(3) : rest;
    if (!keep.count(object)) garbage.push_back(o);
  }
  if (!dry_run)
    run_jobs(*pool_, garbage.size(), config_.jobs, should_stop,
             [&](S3Client& cl, std::size_t i) { cl.remove(garbage[i].key); });
  return garbage;
}

}  // namespace wms::data
