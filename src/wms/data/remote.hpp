// Remotes: the content store of a workspace mirrored on S3-compatible storage, in
// DVC 3.x's remote layout, so that `dvc pull` reads what wms pushed and wms pulls what
// `dvc push` wrote:
//
//   <prefix>/files/md5/<2 hex>/<30 hex>        a file (photo, mask, model bundle)
//   <prefix>/files/md5/<2 hex>/<30 hex>.dir    a directory listing (dvc.hpp)
//   <prefix>/<2 hex>/<30 hex>[.dir]            DVC 2.x's legacy layout (read only)
//   <prefix>/wms/versions/<id>.json            wms's dataset version records (lineage)
//
// Configured in wms.yaml with DVC's option names (`dvc remote modify` and .dvc/config
// use the same ones):
//
//   core:
//     remote: storage               # the default remote (`wms remote add --default`)
//   remote:
//     storage:
//       url: s3://bucket/prefix
//       endpointurl: http://127.0.0.1:9000   # for servers other than AWS
//       region: us-east-1
//       profile: wms                          # a profile of ~/.aws/credentials
//       credentialpath: /path/to/credentials  # instead of ~/.aws/credentials
//       addressing_style: path                # botocore's name: auto | path | virtual
//       ssl_verify: true
//       jobs: 16                              # parallel connections (DVC: 4 x cores)
//
// Credentials are never written to wms.yaml (the options DVC keeps in
// .dvc/config.local are refused): they come from the environment, a profile, or the
// shared credentials file (s3.hpp, find_credentials).
//
// Transfers move only what is missing: a push asks the remote for the keys it needs
// (a HEAD each, never a bucket listing; a directory listing that is present stands for
// its files, as in DVC, because a listing is uploaded only after all of its files), a
// pull fetches what the local store lacks and checks every object's md5 before it is
// stored, so a corrupt object never lands. Many connections run in parallel, each
// kept alive.
//
// Thread safety: a Remote is used from one thread (it runs its own workers).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wms/data/dataset.hpp"
#include "wms/data/s3.hpp"
#include "wms/data/workspace.hpp"

namespace wms::util {
class Config;
}

namespace wms::data {

/// Addressing of buckets: botocore's addressing_style (auto = path-style when an
/// endpointurl is set, virtual-hosted on AWS).
enum class Addressing { kAuto, kPath, kVirtual };
extern const util::Names<Addressing> kAddressingNames;

struct RemoteConfig {
  std::string name;
  std::string url;             ///< s3://bucket/prefix
  std::string endpointurl;     ///< "" = AWS
  std::string region;          ///< "" = AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1
  std::string profile;         ///< "" = AWS_PROFILE, else "default"
  std::string credentialpath;  ///< "" = AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials
  Addressing addressing_style = Addressing::kAuto;
  bool ssl_verify = true;
  int jobs = 0;                 ///< parallel connections; 0 = 4 x cores (DVC's default)
  double connect_timeout = 10;  ///< seconds
  double read_timeout = 300;    ///< seconds for one request
  int retries = 5;              ///< after a 5xx, 429 or a lost connection
  /// "remote 'NAME' (URL)", for messages.
  std::string label() const { return "remote '" + name + "' (" + url + ")"; }
};

/// The options of remote NAME under `remote.NAME.` (util/options.hpp).
const util::OptionTable<RemoteConfig>& remote_option_table();

/// Names of the configured remotes, in file order.
std::vector<std::string> remote_names(const util::Config& config);
/// core.remote, or "" when no default is set.
std::string default_remote_name(const util::Config& config);
/// The remote NAME ("" = the default). Throws NotFound naming the configured ones,
/// InvalidInput for a bad option (naming the key).
RemoteConfig remote_config(const util::Config& config, const std::string& name = "");

/// `wms remote add`: writes remote.NAME (and core.remote when make_default, or when it
/// is the first remote) into wms.yaml. Throws Conflict when NAME exists, InvalidInput
/// for a bad name or URL.
void add_remote(const Workspace& ws, const RemoteConfig& remote, bool make_default);
/// `wms remote modify NAME OPTION VALUE`: sets one option (validated like wms.yaml);
/// refuses credentials (access_key_id, secret_access_key, session_token) with a
/// pointer to where they go. Throws NotFound, InvalidInput.
void modify_remote(const Workspace& ws, const std::string& name, const std::string& option, const std::string& value);
/// `wms remote default NAME`: sets core.remote.
void set_default_remote(const Workspace& ws, const std::string& name);
/// `wms remote remove NAME` (also clears core.remote when it named NAME). Throws NotFound.
void remove_remote(const Workspace& ws, const std::string& name);

/// What a transfer did. ok() when nothing is missing or corrupt.
struct TransferSummary {
  std::uint64_t transferred = 0;     ///< objects moved
  std::uint64_t present = 0;         ///< already where they were going
  std::uint64_t bytes = 0;           ///< moved
  std::vector<std::string> missing;  ///< "md5 (what)", on neither side
  std::vector<std::string> corrupt;  ///< "md5 (what)": its bytes do not hash to its name
  std::uint64_t requests = 0;
  double seconds = 0;
  bool ok() const { return missing.empty() && corrupt.empty(); }
  nlohmann::json to_json() const;
  /// "pushed 12 objects (3.1 MB) in 0.8 s, 1940 already there" and the problems, one a line.
  std::string text(const std::string& verb) const;
};

/// The objects of a dataset version: its two listings and every file they name.
struct VersionObjects {
  std::string version;
  std::vector<std::string> dirs;   ///< "<md5>.dir"
  std::vector<std::string> files;  ///< "<md5>", unique
};

class Remote {
 public:
  /// Resolves credentials and region now (throws InvalidInput naming the remote).
  Remote(const Workspace& ws, RemoteConfig config);
  ~Remote();
  Remote(Remote&&) noexcept;

  const RemoteConfig& config() const { return config_; }
  /// The key of an object ("<md5>" or "<md5>.dir") in the 3.x layout, or the 2.x one.
  std::string key_of(const std::string& object, bool legacy = false) const;

  /// Uploads what the remote lacks of these versions (their files first, then their
  /// listings, then their records) and of `objects` (model bundles). A listing is
  /// uploaded only when all its files are on the remote. Throws Denied, Unavailable,
  /// InvalidInput, Cancelled (should_stop); per-object problems are in the summary.
  /// `full`: trust no listing on the remote, ask for every object, and re-send those
  /// missing or of another size there (repairs what `verify` finds; a damaged object of
  /// the right size needs `verify --deep` to be seen, and is re-sent after a delete).
  TransferSummary push(const std::vector<Version>& versions, const std::vector<std::string>& objects = {},
                       bool full = false);
  /// Downloads what the local store lacks of these versions (by id; records fetched
  /// from the remote when not local) and of `objects`. Listings from a legacy (2.x)
  /// remote are found under the 2.x layout. Every object is md5-checked before it is
  /// stored; a corrupt one is reported and not stored.
  TransferSummary pull(const std::vector<std::string>& version_ids, const std::vector<std::string>& objects = {});
  /// Pulls the version named by the workspace's .dvc pointer files (a dataset `dvc`
  /// tracks, or a fresh clone of a wms project) and records it as a version; HEAD is
  /// not moved. Pointers without `hash: md5` are DVC 2.x's: their objects are read
  /// from the legacy layout. Returns the version (nullopt when the pull was not ok).
  std::optional<Version> pull_pointers(const std::string& action, TransferSummary& summary);

  struct Status {
    std::string version;
    std::uint64_t objects = 0;
    std::vector<std::string> not_on_remote;  ///< objects
    std::vector<std::string> not_local;
  };
  /// What is missing where, for each version (HEADs every object; lists nothing).
  std::vector<Status> status(const std::vector<Version>& versions);
  /// Every object of the versions is on the remote with its local size (or, when not
  /// local, present); `deep` downloads and re-hashes each. Problems are in the summary.
  TransferSummary verify(const std::vector<std::string>& version_ids, bool deep);

  /// Objects under <prefix>/files/md5/ that no version in `keep_versions` and none of
  /// `keep_objects` references; deleted only when !dry_run. Returns the keys.
  std::vector<S3Object> gc(const std::vector<std::string>& keep_versions, const std::vector<std::string>& keep_objects,
                           bool dry_run);

  /// Called between objects; returning true cancels the transfer (Cancelled).
  std::function<bool()> should_stop;
  /// One line at a time, for progress ("pushed 200/1940").
  std::function<void(const std::string&)> log;

 private:
  struct Pool;
  struct PushPlan;
  PushPlan plan_push(const std::vector<Version>& versions, const std::vector<std::string>& objects, bool full,
                     TransferSummary& s);
  /// Returns the files that could not be sent (not in the local store).
  std::set<std::string> push_files(const std::vector<std::string>& check, bool full, TransferSummary& s);
  void push_listings(const PushPlan& plan, const std::vector<Version>& versions, const std::set<std::string>& failed,
                     TransferSummary& s);
  VersionObjects objects_of(const Version& v) const;
  /// Where an object may be, in the order to try (3.x layout first unless 2.x pointers were read).
  std::vector<std::string> keys_for(const std::string& object) const;
  std::optional<Version> record_of(const std::string& id, TransferSummary& s);

  const Workspace& ws_;
  RemoteConfig config_;
  S3Url url_;
  S3Options s3_;
  std::unique_ptr<Pool> pool_;
  bool prefer_legacy_ = false;
};

/// The objects of a version (listings read from the local store).
VersionObjects version_objects(const Workspace& ws, const Version& v);

}  // namespace wms::data
