// wms remote: S3-compatible storage in DVC 3.x's layout (data/remote.hpp).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "wms/data/remote.hpp"
#include "wms/pipeline/sync.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {
namespace {

struct AddArgs {
  data::RemoteConfig remote;
  bool make_default = false;
};
struct ModifyArgs {
  std::string name, option, value;
};
struct TransferArgs {
  std::string remote, version;
  bool all = false, deep = false, dry_run = true, force = false;
};

// Prints a transfer's summary; the exit code says whether anything is missing or corrupt.
int report(const Globals& g, const data::TransferSummary& s, const std::string& verb, const data::Remote& r) {
  if (g.json) {
    auto j = s.to_json();
    j["remote"] = r.config().name;
    print_json(j);
  } else {
    std::printf("%s: %s\n", r.config().label().c_str(), s.text(verb).c_str());
  }
  if (!s.corrupt.empty()) return exit_code_for(ErrorCode::kCorrupt);
  if (!s.missing.empty()) return exit_code_for(ErrorCode::kNotFound);
  return kExitOk;
}

data::Remote open_remote(const data::Workspace& ws, const std::string& name, bool log_progress) {
  data::Remote r(ws, data::remote_config(ws.config(), name));
  r.should_stop = [] { return util::interrupted(); };
  if (log_progress) r.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  return r;
}

void add_remote_add(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("add", "configure a remote (written to wms.yaml; credentials never are)");
  auto a = std::make_shared<AddArgs>();
  app->add_option("NAME", a->remote.name, "a name for the remote")->required();
  app->add_option("URL", a->remote.url, "s3://BUCKET[/PREFIX]")->required();
  app->add_flag("--default,-d", a->make_default, "make it the default remote (core.remote)");
  app->add_option("--endpointurl", a->remote.endpointurl,
                  "the server, for storage other than AWS (http(s)://HOST:PORT)");
  app->add_option("--region", a->remote.region, "the bucket's region");
  app->add_option("--profile", a->remote.profile, "a profile of the AWS credentials file");
  add_names_option(*app, "--addressing-style", a->remote.addressing_style, data::kAddressingNames,
                   "auto: path-style when --endpointurl is set");
  add_common_options(*app, g, false);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   data::add_remote(ws, a->remote, a->make_default);
                   bool is_default = data::default_remote_name(util::Config::load(ws.config_path())) == a->remote.name;
                   std::printf("added remote '%s' (%s)%s\n", a->remote.name.c_str(), a->remote.url.c_str(),
                               is_default ? " as the default (core.remote)" : "");
                   return kExitOk;
                 }});
}

void add_remote_modify(CLI::App& parent, Globals& g, Commands& out) {
  std::string options;
  for (const auto& r : data::remote_option_table().rows()) options += (options.empty() ? "" : ", ") + r.key;
  auto* app = parent.add_subcommand("modify", "set one option of a remote (" + options + ")");
  auto a = std::make_shared<ModifyArgs>();
  app->add_option("NAME", a->name, "the remote")->required();
  app->add_option("OPTION", a->option, "the option (DVC's name)")->required();
  app->add_option("VALUE", a->value, "its value")->required();
  add_common_options(*app, g, false);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   data::modify_remote(ws, a->name, a->option, a->value);
                   std::printf("remote '%s': %s = %s\n", a->name.c_str(), a->option.c_str(), a->value.c_str());
                   return kExitOk;
                 }});
}

// A subcommand that takes a remote's NAME and changes wms.yaml under the workspace lock;
// `change` returns the line to print.
void add_name_command(CLI::App& parent, Globals& g, Commands& out, const std::string& name, const std::string& help,
                      std::string (*change)(const data::Workspace&, const std::string&)) {
  auto* app = parent.add_subcommand(name, help);
  auto remote = std::make_shared<std::string>();
  app->add_option("NAME", *remote, "the remote")->required();
  add_common_options(*app, g, false);
  out.push_back({app, [remote, change, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   std::printf("%s\n", change(ws, *remote).c_str());
                   return kExitOk;
                 }});
}

void add_remote_list(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("list", "the configured remotes");
  add_common_options(*app, g);
  out.push_back({app, [&g] {
                   auto ws = data::Workspace::open(g.workspace);
                   const auto& c = ws.config();
                   std::string def = data::default_remote_name(c);
                   nlohmann::json j = nlohmann::json::array();
                   for (const auto& n : data::remote_names(c)) {
                     auto r = data::remote_config(c, n);
                     auto item = data::remote_option_table().record(r);
                     item["name"] = n;
                     item["default"] = n == def;
                     j.push_back(item);
                     if (!g.json)
                       std::printf("%s%s\t%s%s\n", n.c_str(), n == def ? " (default)" : "", r.url.c_str(),
                                   r.endpointurl.empty() ? "" : ("  endpointurl " + r.endpointurl).c_str());
                   }
                   if (g.json)
                     print_json(j);
                   else if (j.empty())
                     std::printf("no remotes: add one with `wms remote add --default NAME s3://BUCKET/PREFIX`\n");
                   return kExitOk;
                 }});
}

void add_transfer_options(CLI::App& app, TransferArgs& a) {
  app.add_option("--remote,-r", a.remote, "the remote (default: core.remote)");
}

void add_remote_push(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("push",
                                    "upload a dataset version (default: head) and the production model; only "
                                    "what the remote lacks moves");
  auto a = std::make_shared<TransferArgs>();
  auto* version = app->add_option("VERSION", a->version, "dataset version (id prefix; default: head)");
  app->add_flag("--all", a->all, "every dataset version and every registered model")->excludes(version);
  app->add_flag("--full", a->deep,
                "ask for every object, trusting no listing on the remote, and re-send those missing or of the wrong "
                "size (repairs what `verify` finds)");
  add_transfer_options(*app, *a);
  add_common_options(*app, g, true, false);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   auto remote = open_remote(ws, a->remote, !g.json);
                   auto reg = registry::open(ws);
                   auto set = pipeline::push_set(ws, reg, a->version, a->all);
                   return report(g, remote.push(set.versions, set.bundles, a->deep), "pushed", remote);
                 }});
}

void add_remote_pull(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand(
      "pull",
      "download a dataset version (default: head; in a fresh clone, the one the .dvc files name) into the "
      "local store; every object is md5-checked");
  auto a = std::make_shared<TransferArgs>();
  app->add_option("VERSION", a->version, "dataset version (its 32-digit id when it is not local yet; default: head)");
  add_transfer_options(*app, *a);
  add_common_options(*app, g, true, false);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   auto remote = open_remote(ws, a->remote, !g.json);
                   data::Dataset ds(ws);
                   if (!a->version.empty()) {
                     auto s = remote.pull({a->version});
                     int code = report(g, s, "pulled", remote);
                     if (s.ok() && !g.json)
                       std::printf("`wms data checkout %s` makes it the working copy\n", a->version.c_str());
                     return code;
                   }
                   if (auto head = ds.head()) return report(g, remote.pull({head->id}), "pulled", remote);
                   data::TransferSummary s;
                   auto v = remote.pull_pointers("pull from " + remote.config().label(), s);
                   int code = report(g, s, "pulled", remote);
                   if (v) {
                     ds.accept(*v, "pull from " + remote.config().label());
                     if (!g.json)
                       std::printf("dataset version %s (%zu pairs, from the .dvc files) is now the head\n",
                                   v->short_id().c_str(), v->pairs);
                   }
                   return code;
                 }});
}

void add_remote_status(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("status", "which objects of a version are missing on the remote or here");
  auto a = std::make_shared<TransferArgs>();
  auto* version = app->add_option("VERSION", a->version, "dataset version (default: head)");
  app->add_flag("--all", a->all, "every dataset version")->excludes(version);
  add_transfer_options(*app, *a);
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto remote = open_remote(ws, a->remote, false);
                   data::Dataset ds(ws);
                   if (!a->all && a->version.empty() && !ds.head())
                     throw NotFound(
                         "{}: no dataset version here yet; `wms remote pull` fetches the one the .dvc files "
                         "name",
                         ws.root().string());
                   std::vector<data::Version> versions =
                       a->all ? ds.log() : std::vector<data::Version>{ds.get(a->version.empty() ? "head" : a->version)};
                   auto st = remote.status(versions);
                   nlohmann::json j = nlohmann::json::array();
                   bool in_sync = true;
                   for (const auto& s : st) {
                     in_sync = in_sync && s.not_on_remote.empty() && s.not_local.empty();
                     j.push_back({{"version", s.version},
                                  {"objects", s.objects},
                                  {"not_on_remote", s.not_on_remote},
                                  {"not_local", s.not_local}});
                     if (g.json) continue;
                     std::printf("version %.10s: %llu objects; %zu not on %s, %zu not here\n", s.version.c_str(),
                                 static_cast<unsigned long long>(s.objects), s.not_on_remote.size(),
                                 remote.config().name.c_str(), s.not_local.size());
                     for (const auto& o : s.not_on_remote) std::printf("  not on the remote: %s\n", o.c_str());
                     for (const auto& o : s.not_local) std::printf("  not here:          %s\n", o.c_str());
                   }
                   if (g.json)
                     print_json(j);
                   else if (in_sync)
                     std::printf("in sync: `wms remote push` has nothing to send\n");
                   else
                     std::printf(
                         "`wms remote push --full` sends what the remote lacks; `wms remote pull` fetches "
                         "what is not here\n");
                   return kExitOk;
                 }});
}

void add_remote_verify(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("verify",
                                    "check that every object of a version is on the remote with the right "
                                    "size (--deep: downloads and re-hashes each)");
  auto a = std::make_shared<TransferArgs>();
  auto* version = app->add_option("VERSION", a->version, "dataset version (default: head)");
  app->add_flag("--all", a->all, "every dataset version")->excludes(version);
  app->add_flag("--deep", a->deep, "download every object and check its md5");
  add_transfer_options(*app, *a);
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   auto remote = open_remote(ws, a->remote, false);
                   data::Dataset ds(ws);
                   std::vector<std::string> ids;
                   if (a->all) {
                     for (const auto& v : ds.log()) ids.push_back(v.id);
                   } else {
                     ids.push_back(a->version.empty() ? ds.get("head").id : a->version);
                   }
                   auto s = remote.verify(ids, a->deep);
                   int code = report(g, s, "verified", remote);
                   if (!s.ok() && !g.json)
                     std::printf("`wms remote push --full` uploads what is missing or damaged from the local store\n");
                   return code;
                 }});
}

void add_remote_gc(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand(
      "gc", "list (or, with --force, delete) objects on the remote that no dataset version and no model references");
  auto a = std::make_shared<TransferArgs>();
  app->add_flag("--force", a->force, "delete them (default: a dry run that only lists them)");
  add_transfer_options(*app, *a);
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   auto remote = open_remote(ws, a->remote, false);
                   auto reg = registry::open(ws);
                   auto keep = pipeline::push_set(ws, reg, "", true);
                   std::vector<std::string> ids;
                   for (const auto& v : keep.versions) ids.push_back(v.id);
                   auto garbage = remote.gc(ids, keep.bundles, !a->force);
                   std::uint64_t bytes = 0;
                   nlohmann::json j = nlohmann::json::array();
                   for (const auto& o : garbage) {
                     bytes += o.size;
                     j.push_back({{"key", o.key}, {"size", o.size}});
                     if (!g.json)
                       std::printf("%s %s (%llu bytes)\n", a->force ? "deleted" : "would delete", o.key.c_str(),
                                   static_cast<unsigned long long>(o.size));
                   }
                   if (g.json)
                     print_json({{"deleted", a->force}, {"objects", j}, {"bytes", bytes}});
                   else
                     std::printf("%zu unreferenced objects (%llu bytes)%s\n", garbage.size(),
                                 static_cast<unsigned long long>(bytes),
                                 a->force || garbage.empty() ? "" : "; run with --force to delete them");
                   return kExitOk;
                 }});
}

}  // namespace

void add_remote(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("remote", "S3-compatible storage for datasets and models, in DVC's layout");
  app->require_subcommand(1);
  add_remote_add(*app, g, out);
  add_remote_modify(*app, g, out);
  add_name_command(*app, g, out, "default", "make a remote the default (core.remote)",
                   [](const data::Workspace& ws, const std::string& name) {
                     data::set_default_remote(ws, name);
                     return "default remote: " + name;
                   });
  add_name_command(*app, g, out, "remove", "forget a remote (its objects stay where they are)",
                   [](const data::Workspace& ws, const std::string& name) {
                     data::remove_remote(ws, name);
                     return "removed remote '" + name + "'";
                   });
  add_remote_list(*app, g, out);
  add_remote_push(*app, g, out);
  add_remote_pull(*app, g, out);
  add_remote_status(*app, g, out);
  add_remote_verify(*app, g, out);
  add_remote_gc(*app, g, out);
}

}  // namespace wms::cli
