#include "wms/pipeline/pipeline.hpp"

#include <fmt/format.h>

#include <fmt/chrono.h>

#include <chrono>
#include <map>
#include <optional>

#include "wms/data/dataset.hpp"
#include "wms/data/ingest.hpp"
#include "wms/gate/decision.hpp"
#include "wms/infra/provider.hpp"
#include "wms/pipeline/notify.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/registry/tracked.hpp"
#include "wms/train/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/vcs/git.hpp"
#include "wms/vcs/hosting.hpp"

namespace wms::pipeline {
namespace {

namespace fs = std::filesystem;

const char* kJobNames[] = {"merge-and-validate", "start-infra", "train", "stop-infra", "promote", "notify"};

double now() { return registry::now_seconds(); }

// The ErrorCode name of a failure, so that the exit code says what kind it was: wms's
// own errors carry theirs; the OS's and the standard library's are classed here.
std::string code_name_of(const std::exception& e) {
  if (auto* w = dynamic_cast<const Error*>(&e)) return std::string(error_code_name(w->code()));
  if (dynamic_cast<const std::filesystem::filesystem_error*>(&e) || dynamic_cast<const std::ios_base::failure*>(&e))
    return std::string(error_code_name(ErrorCode::kIo));
  return std::string(error_code_name(ErrorCode::kInternal));
}

struct Runner {
  const data::Workspace& ws;
  Options o;
  State st;
  fs::path dir;
  registry::Registry reg;
  std::unique_ptr<infra::Provider> provider;
  infra::Leases leases;
  std::optional<infra::Lease> lease;
  std::optional<vcs::GitRepo> git;  // git mode when the workspace is inside a repository
  std::optional<vcs::HostingOptions> hosting;  // git mode with a hosted pull request

  Runner(const data::Workspace& w, Options opts, State s)
      : ws(w), o(std::move(opts)), st(std::move(s)), dir(w.wms_dir() / "runs" / st.run_id),
        reg(registry::registry_path(w)), provider(infra::make_provider(w)), leases(w) {
    // git.mode: auto (the default) = git mode when the workspace IS a repository's top
    // level; on = also inside a repository (the original's WMS/ layout); off.
    std::string mode = w.config().get_string("git.mode", "auto");
    if (mode != "auto" && mode != "on" && mode != "off")
      throw InvalidInput("{}: git.mode: must be auto, on or off", w.config().source());
    if (mode != "off") {
      git = vcs::GitRepo::open_containing(w.root());
      std::error_code ec;
      if (git && mode == "auto" && fs::canonical(git->workdir(), ec) != fs::canonical(w.root(), ec)) git.reset();
    }
    if (git) hosting = vcs::hosting_options(w.config());  // checked now, not after training
  }

  // Workspace-relative path -> repository-relative path.
  std::string repo_path(const std::string& rel) const {
    return fs::relative(ws.root() / rel, fs::canonical(git->workdir())).string();
  }

  std::map<std::string, std::string> git_files(const data::Version& v, bool with_production) const {
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

  void save() { util::atomic_write(dir / "pipeline.json", st.to_json().dump(2) + "\n"); }

  void log(const std::string& job, const std::string& line) {
    util::make_dirs(dir / "jobs");
    util::append_line(dir / "jobs" / (job + ".log"), line);
    if (o.log) o.log(fmt::format("[{}] {}", job, line));
  }

  void begin(const std::string& name) {
    Job& j = st.job(name);
    j.status = "running";
    j.started = now();
    j.reason.clear();
    save();
  }
  void end(const std::string& name, const std::string& status, const std::string& reason = "") {
    Job& j = st.job(name);
    j.status = status;
    j.ended = now();
    j.reason = reason;
    save();
    if (!reason.empty()) log(name, status + ": " + reason);
  }
  void skip(const std::string& name, const std::string& reason) {
    Job& j = st.job(name);
    j.status = "skipped";
    j.reason = reason;
    save();
    log(name, "skipped: " + reason);
  }
  bool done(const std::string& name) const {
    const auto& s = st.job(name).status;
    return s == "success" || s == "skipped";
  }

  util::Config train_config() const {
    return st.config_ref.empty() ? ws.config() : train::load_train_config(st.config_ref);
  }

  // ---- jobs ------------------------------------------------------------------

  void merge_and_validate() {
    const std::string name = "merge-and-validate";
    begin(name);
    auto options = data::validation_options(ws.config());
    options.threads = o.threads;
    data::BatchSource batch{st.images_dir, st.masks_dir, fs::path(st.images_dir).parent_path().string()};
    auto base = data::Dataset(ws).head();
    auto r = data::add_batch(ws, batch, options, "pipeline " + st.run_id, /*accept=*/false);
    const auto& rep = r.validation.report;
    util::atomic_write(dir / "report.json", rep.to_json().dump(2) + "\n");
    util::atomic_write(dir / "report.txt", rep.to_text());
    const std::string text = rep.to_text();
    for (std::size_t start = 0, nl; start < text.size(); start = nl + 1) {
      nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      if (nl > start) log(name, text.substr(start, nl - start));
    }
    Job& j = st.job(name);
    std::string branch, commit;
    if (git && r.version) {
      // The batch as a commit of pointer files (not pictures) on its own branch.
      auto t = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
      branch = fmt::format("data/{:%Y%m%d-%H%M%S}", t);
      for (int k = 2; !git->branch_commit(branch).empty(); ++k) branch = fmt::format("data/{:%Y%m%d-%H%M%S}-{}", t, k);
      commit = git->commit_files(branch, git->head_branch(), git_files(*r.version, false),
                                 fmt::format("data: {} new images ({} in all)\n\nwms pipeline {}\nbatch: {}\n",
                                             rep.new_images, rep.total_images, st.run_id, st.images_dir));
      log(name, fmt::format("git: committed the pointer files on {} ({})", branch, commit.substr(0, 10)));
    }
    j.outputs = {{"validation_passed", rep.ok()}, {"total_images", rep.total_images}, {"new_images", rep.new_images},
                 {"existing_images", rep.existing_images}, {"duplicate_images", rep.duplicate_images},
                 {"errors", rep.errors()}, {"warnings", rep.warnings()},
                 {"base_version", base ? nlohmann::json(base->id) : nlohmann::json(nullptr)},
                 {"candidate_version", r.version ? nlohmann::json(r.version->id) : nlohmann::json(nullptr)}};
    if (!branch.empty()) {
      j.outputs["branch"] = branch;
      j.outputs["commit"] = commit;
    }
    end(name, "success");
  }

  void start_infra() {
    const std::string name = "start-infra";
    begin(name);
    lease = leases.acquire(*provider, st.run_id, ws.config().get_double("infra.cost_per_hour", 0.0));
    st.job(name).outputs = {{"instance_id", lease->instance.id}, {"address", lease->instance.address},
                            {"provider", lease->instance.provider}};
    log(name, fmt::format("instance {} at {} ({})", lease->instance.id, lease->instance.address, lease->instance.provider));
    end(name, "success");
  }

  void train_job() {
    const std::string name = "train";
    begin(name);
    util::failpoint("pipeline.train.start");
    auto cfg = train_config();
    auto opts = train::train_options(cfg);
    opts.threads = o.threads;
    opts.device = o.device;
    int attempts = o.attempts > 0 ? o.attempts : static_cast<int>(ws.config().get_int("pipeline.attempts", 3));
    if (attempts < 1 || attempts > 20) throw InvalidInput("pipeline.attempts: must be 1..20 (got {})", attempts);
    bool warm = ws.config().get_bool("pipeline.warm_start", false);
    data::Dataset ds(ws);
    std::string candidate_version = st.job("merge-and-validate").outputs["candidate_version"];
    auto samples = train::samples_from_version(ws, ds.get(candidate_version));
    auto test = train::only(samples, data::Split::kTest);
    auto champion_version = reg.alias(registry::kProduction);
    std::optional<nn::Model> champion;
    if (champion_version) champion = registry::load_version(ws, reg, *champion_version);
    auto policy = gate::gate_policy(ws.config());
    train::EvalOptions eo;
    eo.threads = o.threads;
    eo.device = o.device;
    auto logger = [this, name](const std::string& line) { log(name, line); };

    // Production is scored once per run, on the same test split and with the same code
    // as every attempt; each attempt's own test scores come from its training run.
    if (test.empty()) throw InvalidInput("gate: the test split is empty; add data before gating");
    std::optional<train::EvalResult> champion_eval;
    nlohmann::json best;
    const std::uint64_t base_seed = opts.seed;
    for (int a = 1; a <= attempts; ++a) {
      opts.seed = base_seed + static_cast<std::uint64_t>(a - 1);
      log(name, fmt::format("attempt {}/{} (seed {})", a, attempts, opts.seed));
      registry::TrackedRequest q{samples, candidate_version, opts, st.run_id,
                                 warm && champion ? &*champion : nullptr,
                                 champion_version ? fmt::format("production (version {})", *champion_version) : "",
                                 o.should_stop, logger};
      auto t = registry::train_tracked(ws, reg, q);
      auto gate_start = std::chrono::steady_clock::now();
      if (champion && !champion_eval) champion_eval = train::evaluate(*champion, test, eo);
      auto d = gate::decide(t.test_eval ? *t.test_eval : train::evaluate(*t.model, test, eo),
                            champion_eval ? &*champion_eval : nullptr, policy);
      double gate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - gate_start).count();
      registry::DecisionRecord rec;
      rec.candidate = t.model_version;
      rec.champion = champion_version;
      rec.dataset_version = candidate_version;
      rec.run = t.run_id;
      rec.verdict = d.verdict;
      rec.reason = d.reason;
      rec.body = d.to_json();
      std::int64_t decision = reg.record_decision(rec);
      util::atomic_write(dir / fmt::format("decision-{}.json", a), rec.to_json().dump(2) + "\n");
      log(name, fmt::format("gate: {} — {} ({:.2f}s)", d.verdict, d.reason, gate_seconds));
      nlohmann::json out = {{"improved", d.improved}, {"dice", d.candidate["dice"]}, {"iou", d.candidate["iou"]},
                            {"run_id", t.run_id}, {"model_version", t.model_version}, {"attempts", a},
                            {"decision_id", decision}, {"reason", d.reason},
                            {"champion_version", champion_version ? nlohmann::json(*champion_version) : nlohmann::json(nullptr)},
                            {"champion_dice", d.champion.is_null() ? nlohmann::json(nullptr) : d.champion["dice"]}};
      if (best.is_null() || d.improved || out["dice"].get<double>() > best["dice"].get<double>()) best = out;
      best["attempts"] = a;
      if (d.improved) break;
    }
    st.job(name).outputs = best;
    util::atomic_write(dir / "pr.md", pr_text(best["improved"].get<bool>()));
    end(name, "success");
  }

  void stop_infra() {
    const std::string name = "stop-infra";
    if (!lease) {
      // Resumed run, or start-infra never ran: release whatever this run still holds.
      for (const auto& l : leases.list())
        if (l.run_id == st.run_id) lease = l;
    }
    if (!lease) {
      skip(name, "no compute was started");
      return;
    }
    begin(name);
    double cost = leases.release(*provider, *lease);
    st.job(name).outputs = {{"instance_id", lease->instance.id}, {"cost", cost},
                            {"seconds", now() - lease->started}};
    log(name, fmt::format("released {} after {:.0f}s (cost {:.4f})", lease->instance.id, now() - lease->started, cost));
    lease.reset();
    end(name, "success");
  }

  void promote() {
    const std::string name = "promote";
    begin(name);
    const auto& t = st.job("train").outputs;
    std::string candidate = st.job("merge-and-validate").outputs["candidate_version"];
    data::Dataset ds(ws);
    auto v = ds.get(candidate);
    if (auto head = ds.head(); !head || head->id != v.id) ds.set_head(v, "pipeline " + st.run_id);
    util::failpoint("pipeline.promote.after_head");
    ds.checkout(v);
    int version = t["model_version"];
    if (reg.alias(registry::kProduction) != version)
      registry::promote(ws, reg, version, registry::current_actor(),
                        fmt::format("pipeline {}: {}", st.run_id, t["reason"].get<std::string>()),
                        t["decision_id"].get<std::int64_t>());
    st.job(name).outputs = {{"dataset_version", v.id}, {"production", version}};
    if (git && hosting) {
      open_pull_request(v);
    } else if (git) {
      // The original's create-pr + auto-merge, when wms owns the repository: squash the
      // data branch into the checked-out branch.
      auto files = git_files(v, true);
      std::string target = git->head_branch();
      std::string merged = git->commit_files(target, target, files, pr_text(true));
      git->refresh_index(files);
      st.job(name).outputs["merge_commit"] = merged;
      st.job(name).outputs["branch"] = target;
      log(name, fmt::format("git: squash-merged {} into {} ({})",
                            st.job("merge-and-validate").outputs.value("branch", std::string("the batch")), target,
                            merged.substr(0, 10)));
    }
    log(name, fmt::format("dataset head -> {} ({} pairs); production -> version {}", v.short_id(), v.pairs, version));
    end(name, "success");
  }

  // The original's create-pr + auto-merge on a hosted service: the data branch gets the
  // production files too, is pushed, and its pull request opened with auto-merge
  // requested. The local accept is done by then, so a failure here is logged with
  // what to do, in the job's outputs and the notification, and does not fail the run.
  void open_pull_request(const data::Version& v) {
    const std::string name = "promote";
    auto& out = st.job(name).outputs;
    std::string branch = st.job("merge-and-validate").outputs.value("branch", std::string());
    std::string text = pr_text(true);
    std::string title = text.substr(0, text.find('\n'));
    std::string body = text.substr(text.find('\n') + 1);
    while (!body.empty() && body.front() == '\n') body.erase(body.begin());
    try {
      if (branch.empty()) throw Conflict("the batch has no data branch (it was ingested before git mode was on)");
      git->commit_files(branch, branch, git_files(v, true),
                        fmt::format("{}\n\nproduction: model version {}\n", title, out["production"].get<int>()));
      git->push(hosting->remote, branch, hosting->token);
      log(name, fmt::format("git: pushed {} to {}", branch, hosting->remote));
      std::string base = hosting->base.empty() ? git->head_branch() : hosting->base;
      auto pr = vcs::open_pull_request(*hosting, branch, base, title, body);
      out["pr_number"] = pr.number;
      out["pr_url"] = pr.url;
      out["pr_merge"] = pr.merge;
      if (!pr.merge_note.empty()) out["pr_note"] = pr.merge_note;
      std::string merge = pr.merge == "auto"     ? "auto-merge (squash) requested"
                          : pr.merge == "merged" ? "squash-merged (nothing to wait for)"
                                                 : pr.merge_note;
      log(name, fmt::format("pull request #{} {} ({} -> {} in {}): {}", pr.number, pr.reused ? "found open" : "opened",
                            branch, base, hosting->repository, merge));
    } catch (const Error& e) {
      out["pr_error"] = e.what();
      log(name, fmt::format("the pull request could not be opened: {}. The data and the model are accepted here; "
                            "push {} and open its pull request by hand.",
                            e.what(), branch.empty() ? "the batch" : branch));
    }
  }

  // The pull-request text the original put on its PR: title line, then a metrics table
  // and the decision (also written to the run folder as pr.md).
  std::string pr_text(bool merged) const {
    const auto& v = st.job("merge-and-validate").outputs;
    const auto& t = st.job("train").outputs;
    auto num = [](const nlohmann::json& j, const char* k) {
      return j.contains(k) && j[k].is_number() ? fmt::format("{:.4f}", j[k].get<double>()) : std::string("-");
    };
    std::string s = fmt::format("data: {} new images, model version {} {}\n\n", v.value("new_images", 0),
                                t.value("model_version", 0), merged ? "promoted" : "not promoted");
    s += fmt::format("wms pipeline run `{}`\n\n| | candidate | production |\n|---|---|---|\n", st.run_id);
    s += fmt::format("| test dice | {} | {} |\n", num(t, "dice"), num(t, "champion_dice"));
    s += fmt::format("| test iou | {} | - |\n", num(t, "iou"));
    s += fmt::format("| images (new / total) | {} / {} | |\n\n", v.value("new_images", 0), v.value("total_images", 0));
    s += fmt::format("Decision: {}\n", t.value("reason", std::string("-")));
    return s;
  }

  void record_submission() {
    util::make_dirs(ws.wms_dir() / "submissions");
    nlohmann::json s = {{"run_id", st.run_id}, {"time", registry::iso_time(now())}, {"images", st.images_dir},
                        {"masks", st.masks_dir}, {"validation", st.job("merge-and-validate").outputs},
                        {"train", st.job("train").outputs}, {"status", "rejected"}};
    util::atomic_write(ws.wms_dir() / "submissions" / (st.run_id + ".json"), s.dump(2) + "\n");
  }

  void notify_job(Outcome outcome) {
    const std::string name = "notify";
    begin(name);
    try {
      auto no = notify_options(ws.config());
      const auto& v = st.job("merge-and-validate").outputs;
      const auto& t = st.job("train").outputs;
      std::string summary = outcome_name(outcome);
      if (t.contains("dice"))
        summary = fmt::format("{}: dice {:.4f}, model version {}", outcome_name(outcome), t["dice"].get<double>(),
                              t["model_version"].get<int>());
      nlohmann::json payload = {{"run_id", st.run_id}, {"outcome", outcome_name(outcome)}, {"summary", summary},
                                {"workspace", ws.root().string()}, {"validation", v}, {"train", t}};
      auto deliveries = notify(no, outcome_name(outcome), payload);
      nlohmann::json out = nlohmann::json::array();
      int failed = 0;
      for (auto& d : deliveries) {
        out.push_back({{"target", d.target}, {"ok", d.ok}, {"attempts", d.attempts}, {"error", d.error}});
        log(name, d.ok ? fmt::format("sent to {}", d.target)
                       : fmt::format("webhook {} failed after {} attempt(s): {} (the run is not affected)", d.target,
                                     d.attempts, d.error));
        failed += !d.ok;
      }
      if (deliveries.empty()) log(name, "no webhooks configured");
      st.job(name).outputs = {{"event", outcome_name(outcome)}, {"deliveries", out}, {"failed", failed}};
      end(name, "success");
    } catch (const std::exception& e) {
      end(name, "failure", e.what());  // a notification never changes the outcome
    }
  }

  // ---- the run -----------------------------------------------------------------

  Outcome execute() {
    // A lease left by a run killed with -9 is found here and released.
    for (const auto& l : leases.reap(*provider))
      log("start-infra", fmt::format("released the lease of an earlier dead run {} ({})", l.run_id, l.instance.id));

    std::string running_job;
    auto mark_running = [&](const char* status, const std::string& reason) {
      for (auto& j : st.jobs)
        if (j.status == "running") end(j.name, status, reason);
    };
    Outcome outcome = Outcome::kFailed;
    try {
      if (!done("merge-and-validate")) merge_and_validate();
      const auto& v = st.job("merge-and-validate").outputs;
      if (!v["validation_passed"].get<bool>()) {
        outcome = Outcome::kInvalid;
        for (const char* n : {"start-infra", "train", "stop-infra", "promote"})
          skip(n, fmt::format("validation failed ({} errors; see report.txt)", v["errors"].get<int>()));
      } else if (v["new_images"].get<int>() == 0) {
        outcome = Outcome::kNotImproved;
        for (const char* n : {"start-infra", "train", "stop-infra", "promote"}) skip(n, "the batch adds no new images");
      } else {
        try {
          if (!done("train")) {
            if (!done("start-infra") || !lease) start_infra();
            train_job();
          }
          outcome = st.job("train").outputs["improved"].get<bool>() ? Outcome::kImproved : Outcome::kNotImproved;
        } catch (const Cancelled& e) {
          mark_running("cancelled", e.what());
          outcome = Outcome::kCancelled;
          st.error = e.what();
        } catch (const std::exception& e) {
          mark_running("failure", e.what());
          outcome = Outcome::kFailed;
          st.error = e.what();
          st.error_code = code_name_of(e);
        }
        stop_infra();  // always
        if (outcome == Outcome::kImproved) {
          promote();
        } else {
          skip("promote", outcome == Outcome::kNotImproved ? "the model did not improve; the batch is kept as a rejected submission"
                                                           : "training did not finish");
          if (outcome == Outcome::kNotImproved) record_submission();
        }
      }
    } catch (const std::exception& e) {
      mark_running("failure", e.what());
      if (lease) stop_infra();
      outcome = Outcome::kFailed;
      st.error = e.what();
      st.error_code = code_name_of(e);
    }
    notify_job(outcome);
    st.outcome = outcome_name(outcome);
    st.ended = now();
    save();
    reg.set_tag(st.run_id, "outcome", st.outcome);
    reg.finish_run(st.run_id,
                   outcome == Outcome::kFailed      ? registry::kFailure
                   : outcome == Outcome::kCancelled ? registry::kCancelled
                                                    : registry::kSuccess,
                   st.error);
    return outcome;
  }
};

}  // namespace

std::string outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kImproved: return "improved";
    case Outcome::kNotImproved: return "not_improved";
    case Outcome::kInvalid: return "invalid";
    case Outcome::kFailed: return "failed";
    case Outcome::kCancelled: return "cancelled";
  }
  return "failed";
}

int outcome_exit_code(Outcome o, const std::string& error_code) {
  switch (o) {
    case Outcome::kImproved: return 0;
    case Outcome::kNotImproved: return 10;
    case Outcome::kInvalid: return 1;
    case Outcome::kCancelled: return 130;
    case Outcome::kFailed:
      for (int c = static_cast<int>(ErrorCode::kInvalidInput); c <= static_cast<int>(ErrorCode::kInternal); ++c)
        if (error_code_name(static_cast<ErrorCode>(c)) == error_code) return exit_code_for(static_cast<ErrorCode>(c));
      return 70;
  }
  return 70;
}

Job& State::job(const std::string& name) {
  for (auto& j : jobs)
    if (j.name == name) return j;
  throw Internal("no job {}", name);
}
const Job& State::job(const std::string& name) const { return const_cast<State*>(this)->job(name); }

nlohmann::json State::to_json() const {
  nlohmann::json js = nlohmann::json::array();
  for (const auto& j : jobs)
    js.push_back({{"name", j.name}, {"status", j.status}, {"started", j.started}, {"ended", j.ended},
                  {"outputs", j.outputs}, {"reason", j.reason}});
  return {{"run_id", run_id}, {"images", images_dir}, {"masks", masks_dir}, {"config", config_ref}, {"outcome", outcome},
          {"error", error}, {"error_code", error_code}, {"started", started}, {"ended", ended}, {"jobs", js}};
}

State State::from_json(const nlohmann::json& j) {
  State s;
  s.run_id = j.at("run_id");
  s.images_dir = j.at("images");
  s.masks_dir = j.at("masks");
  s.config_ref = j.value("config", "");
  s.outcome = j.value("outcome", "");
  s.error = j.value("error", "");
  s.error_code = j.value("error_code", "");
  s.started = j.value("started", 0.0);
  s.ended = j.value("ended", 0.0);
  for (const auto& x : j.at("jobs"))
    s.jobs.push_back({x.at("name"), x.at("status"), x.value("started", 0.0), x.value("ended", 0.0),
                      x.value("outputs", nlohmann::json::object()), x.value("reason", "")});
  return s;
}

State load_state(const data::Workspace& ws, const std::string& run_id) {
  registry::Registry reg(registry::registry_path(ws));
  auto run = reg.find_run(run_id);
  if (!run || run->kind != "pipeline") throw NotFound("pipeline run '{}' does not exist (see `wms pipeline list`)", run_id);
  fs::path p = ws.wms_dir() / "runs" / run->id / "pipeline.json";
  auto j = nlohmann::json::parse(util::read_file(p, 16 << 20), nullptr, false);
  if (j.is_discarded()) throw Corrupt("{}: not valid JSON", p.string());
  try {
    return State::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw Corrupt("{}: not a pipeline state ({})", p.string(), e.what());
  }
}

Result run(const data::Workspace& ws, const Options& o) {
  auto lock = ws.lock(o.wait_seconds);
  registry::Registry reg(registry::registry_path(ws));
  State st;
  st.images_dir = fs::absolute(o.batch.images_dir).lexically_normal().string();
  st.masks_dir = fs::absolute(o.batch.masks_dir).lexically_normal().string();
  st.config_ref = o.config_ref;
  if (!o.config_ref.empty()) train::load_train_config(o.config_ref);  // fail before anything starts
  st.run_id = reg.create_run({"pipeline", "", "", "", ""});
  st.started = now();
  for (const char* n : kJobNames) st.jobs.push_back({n});
  fs::path dir = ws.wms_dir() / "runs" / st.run_id;
  util::make_dirs(dir / "jobs");
  reg.set_run_dir(st.run_id, dir.string());
  reg.log_params(st.run_id, {{"images", st.images_dir}, {"masks", st.masks_dir}, {"config", st.config_ref},
                             {"attempts", o.attempts}});
  Runner r(ws, o, st);
  r.save();
  if (o.log) o.log("pipeline run " + st.run_id);
  Outcome outcome = r.execute();
  return {r.st, outcome};
}

Result resume(const data::Workspace& ws, const std::string& run_id, const Options& o) {
  auto lock = ws.lock(o.wait_seconds);
  State st = load_state(ws, run_id);
  if (!st.outcome.empty()) throw Conflict("pipeline run {} already finished ({}); start a new run instead", st.run_id, st.outcome);
  // Every job from the first unfinished one runs again; compute is started afresh.
  bool again = false;
  for (auto& j : st.jobs) {
    if (j.status != "success") again = true;
    if (again || (j.name == "start-infra" && st.job("train").status != "success")) {
      j.status = "queued";
      j.reason.clear();
    }
  }
  Runner r(ws, o, st);
  r.log("merge-and-validate", "resuming run " + st.run_id);
  Outcome outcome = r.execute();
  return {r.st, outcome};
}

std::vector<nlohmann::json> submissions(const data::Workspace& ws) {
  std::vector<nlohmann::json> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(ws.wms_dir() / "submissions", ec)) {
    auto j = nlohmann::json::parse(util::read_file(e.path(), 16 << 20), nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.value("time", "") > b.value("time", ""); });
  return out;
}

}  // namespace wms::pipeline
