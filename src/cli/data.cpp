#include <fmt/format.h>

#include "cli/batch_args.hpp"
#include "cli/command.hpp"
#include "wms/data/dataset.hpp"
#include "wms/data/ingest.hpp"

namespace wms::cli {
namespace {

nlohmann::json split_counts(const std::vector<data::Sample>& samples) {
  std::size_t n[3] = {0, 0, 0};
  for (const auto& s : samples) ++n[static_cast<int>(s.split)];
  return {{"train", n[0]}, {"val", n[1]}, {"test", n[2]}};
}

namespace {

struct AddArgs {
  BatchArgs batch;
  std::string message;
};
struct DiffArgs {
  std::string older, newer;
};
struct CheckoutArgs {
  std::string ref = "head";
};

}  // namespace

void add_data_add(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("add",
                                    "validate a batch and add it to the dataset as a new version "
                                    "(nothing changes if it is invalid)");
  auto a = std::make_shared<AddArgs>();
  a->batch.add_to(*app);
  app->add_option("--message,-m", a->message, "a note stored with the version");
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   auto options = data::validation_options(ws.config());
                   options.threads = g.threads;
                   auto src = a->batch.source();
                   auto r = data::add_batch(ws, src, options, a->message.empty() ? "add " + src.label : a->message);
                   const auto& rep = r.validation.report;
                   if (g.json) {
                     nlohmann::json j = rep.to_json();
                     j["version"] = r.version ? nlohmann::json(r.version->id) : nlohmann::json(nullptr);
                     j["accepted"] = r.accepted;
                     print_json(j);
                   } else {
                     std::fputs(rep.to_text().c_str(), stdout);
                     if (r.accepted)
                       std::printf("added %zu pairs: dataset version %s (%zu pairs); wrote %s.dvc and %s.dvc\n",
                                   rep.new_images, r.version->short_id().c_str(), r.version->pairs,
                                   ws.images_dir().c_str(), ws.masks_dir().c_str());
                     else if (rep.ok())
                       std::printf("nothing new to add: the dataset already holds every pair\n");
                     else
                       std::printf("nothing was added: fix the errors above and run again\n");
                   }
                   return rep.ok() ? kExitOk : kExitDataInvalid;
                 }});
}

void add_data_status(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("status", "the accepted dataset version, its splits, and working-copy changes");
  add_common_options(*app, g);
  out.push_back({app, [&g] {
                   auto ws = data::Workspace::open(g.workspace);
                   data::Dataset ds(ws);
                   auto head = ds.head();
                   auto state = ds.working_state();
                   nlohmann::json j = {{"workspace", ws.root().string()}, {"head", nullptr}};
                   if (head) {
                     j["head"] = head->to_json();
                     j["splits"] = split_counts(ds.samples(*head));
                   }
                   j["working_copy"] = {{"clean", state.clean()},
                                        {"missing", state.missing},
                                        {"modified", state.modified},
                                        {"untracked", state.untracked},
                                        {"pointers_current", state.pointers_current}};
                   if (g.json) {
                     print_json(j);
                     return kExitOk;
                   }
                   if (!head) {
                     std::printf("no dataset version yet: add a batch with `wms data add DIR`\n");
                   } else {
                     std::printf("dataset version %s  %zu pairs  train %d / val %d / test %d  (%s, %s)\n",
                                 head->short_id().c_str(), head->pairs, j["splits"]["train"].get<int>(),
                                 j["splits"]["val"].get<int>(), j["splits"]["test"].get<int>(), head->created.c_str(),
                                 head->message.c_str());
                   }
                   if (state.clean()) {
                     std::printf("working copy matches the dataset version\n");
                   } else {
                     for (auto& f : state.missing) std::printf("  missing:   %s\n", f.c_str());
                     for (auto& f : state.modified) std::printf("  modified:  %s\n", f.c_str());
                     for (auto& f : state.untracked) std::printf("  untracked: %s\n", f.c_str());
                     if (!state.pointers_current)
                       std::printf("  the .dvc pointer files do not match the dataset version\n");
                     std::printf("run `wms data checkout` to restore the working copy (untracked files are kept)\n");
                   }
                   return kExitOk;
                 }});
}

void add_data_log(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("log", "dataset versions, newest first");
  add_common_options(*app, g);
  out.push_back({app, [&g] {
                   auto ws = data::Workspace::open(g.workspace);
                   data::Dataset ds(ws);
                   auto versions = ds.log();
                   if (g.json) {
                     nlohmann::json j = nlohmann::json::array();
                     for (const auto& v : versions) j.push_back(v.to_json());
                     print_json(j);
                     return kExitOk;
                   }
                   if (versions.empty()) std::printf("no dataset versions yet\n");
                   for (std::size_t i = 0; i < versions.size(); ++i) {
                     const auto& v = versions[i];
                     std::printf("%s%s  %s  %5zu pairs  %s\n", v.short_id().c_str(), i == 0 ? " (head)" : "       ",
                                 v.created.c_str(), v.pairs, v.message.c_str());
                   }
                   return kExitOk;
                 }});
}

void add_data_diff(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("diff", "files added, removed or changed from version A to version B");
  auto a = std::make_shared<DiffArgs>();
  app->add_option("A", a->older, "older version (id prefix or head)")->required();
  app->add_option("B", a->newer, "newer version (default: head)")->default_val("head");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   data::Dataset ds(ws);
                   auto d = ds.diff(ds.get(a->older), ds.get(a->newer));
                   if (g.json) {
                     print_json({{"added", d.added}, {"removed", d.removed}, {"changed", d.changed}});
                     return kExitOk;
                   }
                   for (auto& f : d.added) std::printf("+ %s\n", f.c_str());
                   for (auto& f : d.removed) std::printf("- %s\n", f.c_str());
                   for (auto& f : d.changed) std::printf("M %s\n", f.c_str());
                   std::printf("%zu added, %zu removed, %zu changed\n", d.added.size(), d.removed.size(),
                               d.changed.size());
                   return kExitOk;
                 }});
}

void add_data_checkout(CLI::App& parent, Globals& g, Commands& out) {
  auto* app = parent.add_subcommand("checkout",
                                    "make the working copy match a version (default: head); "
                                    "a version other than head becomes the head");
  auto a = std::make_shared<CheckoutArgs>();
  app->add_option("VERSION", a->ref, "version id prefix or head")->capture_default_str();
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   data::Dataset ds(ws);
                   auto v = ds.get(a->ref);
                   ds.accept(v, "checkout");
                   if (g.json)
                     print_json(v.to_json());
                   else
                     std::printf("working copy at dataset version %s (%zu pairs)\n", v.short_id().c_str(), v.pairs);
                   return kExitOk;
                 }});
}

}  // namespace

void add_data(CLI::App& root, Globals& g, Commands& out) {
  auto* data = root.add_subcommand("data", "the versioned dataset: add, status, log, diff, checkout");
  data->require_subcommand(1);
  add_data_add(*data, g, out);
  add_data_status(*data, g, out);
  add_data_log(*data, g, out);
  add_data_diff(*data, g, out);
  add_data_checkout(*data, g, out);
}

}  // namespace wms::cli
