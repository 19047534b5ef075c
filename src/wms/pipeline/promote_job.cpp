// promote: the original's create-pr + auto-merge. The candidate dataset version
// becomes the head and the working copy, the model becomes production, and in git mode
// the pointer files are squash-merged locally or pushed with a pull request.
#include <fmt/format.h>

#include "wms/pipeline/runner.hpp"
#include "wms/pipeline/sync.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {

void Runner::promote() {
  const JobId job = JobId::kPromote;
  begin(job);
  const TrainOutputs& t = *st.train;
  data::Dataset ds(ws);
  auto v = ds.get(st.validate->candidate_version.value());
  // The accepted data and model reach the remote before the head moves: a failed push
  // fails the job and nothing is accepted.
  std::optional<SyncOutputs> pushed;
  if (auto remote = default_remote(ws)) {
    remote->should_stop = o.should_stop;
    SyncSet set{{v}, {}};
    for (const auto& m : reg.list_models())
      if (m.version == t.model_version) set.bundles.push_back(m.bundle_md5);
    auto s = push_or_throw(*remote, set);
    pushed = SyncOutputs{remote->config().name, s.transferred, s.present, s.bytes, s.seconds};
    log(job, remote->config().label() + ": " + s.text("pushed"));
  }
  ds.accept(v, "pipeline " + st.run_id);
  if (reg.alias(registry::kProduction) != t.model_version)
    registry::promote(ws, reg, t.model_version, registry::current_actor(),
                      fmt::format("pipeline {}: {}", st.run_id, t.reason), t.decision_id);
  st.promote = PromoteOutputs{};
  st.promote->dataset_version = v.id;
  st.promote->production = t.model_version;
  st.promote->push = pushed;
  if (git && hosting) {
    open_pull_request(v);
  } else if (git) {
    // wms owns the repository: squash the data branch into the checked-out branch.
    auto files = git_files(v, true);
    std::string target = git->head_branch();
    st.promote->merge_commit = git->commit_files(target, target, files, pr_text(true));
    st.promote->branch = target;
    git->refresh_index(files);
    log(job, fmt::format("git: squash-merged {} into {} ({})",
                         st.validate->branch.empty() ? "the batch" : st.validate->branch, target,
                         st.promote->merge_commit.substr(0, 10)));
  }
  log(job,
      fmt::format("dataset head -> {} ({} pairs); production -> version {}", v.short_id(), v.pairs, t.model_version));
  end(job, JobStatus::kSuccess);
}

// On a hosted service: the data branch gets the production files too, is pushed, and
// its pull request opened with auto-merge requested. The local accept is done by then,
// so a failure here is logged with what to do, in the job's outputs and the
// notification, and does not fail the run.
void Runner::open_pull_request(const data::Version& v) {
  const JobId job = JobId::kPromote;
  PromoteOutputs& out = *st.promote;
  const std::string& branch = st.validate->branch;
  std::string text = pr_text(true);
  std::string title = text.substr(0, text.find('\n'));
  std::string body = text.substr(text.find('\n') + 1);
  while (!body.empty() && body.front() == '\n') body.erase(body.begin());
  try {
    if (branch.empty()) throw Conflict("the batch has no data branch (it was ingested before git mode was on)");
    git->commit_files(branch, branch, git_files(v, true),
                      fmt::format("{}\n\nproduction: model version {}\n", title, out.production));
    git->push(hosting->remote, branch, hosting->token);
    log(job, fmt::format("git: pushed {} to {}", branch, hosting->remote));
    std::string base = hosting->base.empty() ? git->head_branch() : hosting->base;
    auto pr = vcs::open_pull_request(*hosting, branch, base, title, body);
    out.pr_number = pr.number;
    out.pr_url = pr.url;
    out.pr_merge = pr.merge;
    out.pr_note = pr.merge_note;
    std::string merge = pr.merge == "auto"     ? "auto-merge (squash) requested"
                        : pr.merge == "merged" ? "squash-merged (nothing to wait for)"
                                               : pr.merge_note;
    log(job, fmt::format("pull request #{} {} ({} -> {} in {}): {}", pr.number, pr.reused ? "found open" : "opened",
                         branch, base, hosting->repository, merge));
  } catch (const Error& e) {
    out.pr_error = e.what();
    log(job, fmt::format("the pull request could not be opened: {}. The data and the model are accepted here; "
                         "push {} and open its pull request by hand.",
                         e.what(), branch.empty() ? "the batch" : branch));
  }
}

std::string Runner::repo_path(const std::string& rel) const {
  return fs::relative(ws.root() / rel, fs::canonical(git->workdir())).string();
}

std::map<std::string, std::string> Runner::git_files(const data::Version& v, bool with_production) const {
  std::map<std::string, std::string> files;
  for (auto& [rel, text] : data::Dataset(ws).pointer_files(v)) files[repo_path(rel)] = text;
  std::error_code ec;
  for (const char* extra : {"data/.gitignore", "models/production_current.json", "models/production_history.jsonl"}) {
    if (!with_production && std::string(extra).rfind("models/", 0) == 0) continue;
    fs::path p = ws.root() / extra;
    if (fs::exists(p, ec)) files[repo_path(extra)] = util::read_file(p);
  }
  return files;
}

std::string Runner::pr_text(bool merged) const {
  const ValidateOutputs v = st.validate.value_or(ValidateOutputs{});
  const TrainOutputs t = st.train.value_or(TrainOutputs{});
  auto num = [](std::optional<double> x) { return x ? fmt::format("{:.4f}", *x) : std::string("-"); };
  std::string s = fmt::format("data: {} new images, model version {} {}\n\n", v.new_images, t.model_version,
                              merged ? "promoted" : "not promoted");
  s += fmt::format("wms pipeline run `{}`\n\n| | candidate | production |\n|---|---|---|\n", st.run_id);
  s += fmt::format("| test dice | {} | {} |\n", num(st.train ? std::optional(t.dice) : std::nullopt),
                   num(t.champion_dice));
  s += fmt::format("| test iou | {} | - |\n", num(st.train ? std::optional(t.iou) : std::nullopt));
  s += fmt::format("| images (new / total) | {} / {} | |\n\n", v.new_images, v.total_images);
  s += fmt::format("Decision: {}\n", st.train ? t.reason : std::string("-"));
  return s;
}

}  // namespace wms::pipeline
