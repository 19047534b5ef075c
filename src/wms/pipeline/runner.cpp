#include "wms/pipeline/runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "wms/registry/project_lock.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/train/config.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {
namespace {

// The ErrorCode name of a failure, so that the exit code says what kind it was: wms's
// own errors carry theirs; the OS's and the standard library's are classed here.
std::string code_name_of(const std::exception& e) {
  if (auto* w = dynamic_cast<const Error*>(&e)) return std::string(error_code_name(w->code()));
  if (dynamic_cast<const std::filesystem::filesystem_error*>(&e) || dynamic_cast<const std::ios_base::failure*>(&e))
    return std::string(error_code_name(ErrorCode::kIo));
  return std::string(error_code_name(ErrorCode::kInternal));
}

constexpr JobId kComputeJobs[] = {JobId::kStartInfra, JobId::kTrain, JobId::kStopInfra, JobId::kPromote};

}  // namespace

const util::Names<GitMode> kGitModeNames{{{GitMode::kAuto, "auto"}, {GitMode::kOn, "on"}, {GitMode::kOff, "off"}}};

const util::OptionTable<Settings>& settings_option_table() {
  static const auto t =
      util::OptionTable<Settings>()
          .add("pipeline.attempts", "attempts", WMS_MEMBER(attempts), "trainings per run, each gated",
               util::Range::closed(1, 20))
          .add("pipeline.warm_start", "warm_start", WMS_MEMBER(warm_start), "start from production's weights")
          .add("git.mode", "git_mode", WMS_MEMBER(git_mode), "publish to git: auto (at a repository's top), on, off",
               kGitModeNames)
          .add("infra.cost_per_hour", "cost_per_hour", WMS_MEMBER(cost_per_hour), "of the leased compute",
               util::Range::at_least(0))
          .add("infra.lease_minutes", "lease_minutes", WMS_MEMBER(lease_minutes),
               "a lease's term; renewed before each attempt, else the reaper stops its machine",
               util::Range::closed(1, 10080))
          .add("infra.max_lease_minutes", "max_lease_minutes", WMS_MEMBER(max_lease_minutes),
               "hard deadline after the start: never held longer (the worker stops itself then)",
               util::Range::closed(1, 10080))
          .add("infra.machines", "machines", WMS_MEMBER(machines),
               "leased at once: attempts run in parallel, one per machine; the first that improves wins and the "
               "others are stopped (a provider other than local)",
               util::Range::closed(1, 16));
  return t;
}

Runner::Runner(const data::Workspace& w, Options opts, State s)
    : ws(w),
      o(std::move(opts)),
      st(std::move(s)),
      dir(w.run_dir(st.run_id)),
      reg(registry::open(w)),
      provider(infra::make_provider(w)),
      leases(w) {
  settings_option_table().read(settings, w.config());
  if (o.attempts > 0) settings.attempts = o.attempts;
  settings_option_table().validate(settings, "--attempts");
  if (settings.machines > 1 && provider->name() == "local")
    throw InvalidInput(
        "{}: infra.machines: {} machines need a provider that leases them (infra.provider: ssh, ec2 or slurm); "
        "the local provider is this one machine",
        w.config().source(), settings.machines);
  if (settings.git_mode != GitMode::kOff) {
    git = vcs::GitRepo::open_containing(w.root());
    std::error_code ec;
    if (git && settings.git_mode == GitMode::kAuto && fs::canonical(git->workdir(), ec) != fs::canonical(w.root(), ec))
      git.reset();
  }
  if (git) hosting = vcs::hosting_options(w.config());  // checked now, not after training
}

void Runner::save() {
  util::atomic_write(dir / "pipeline.json", st.to_json().dump(2) + "\n");
}

void Runner::log(JobId job, const std::string& line) {
  std::lock_guard<std::mutex> lock(log_mutex);
  util::make_dirs(dir / "jobs");
  util::append_line(dir / "jobs" / (std::string(job_name(job)) + ".log"), line);
  if (o.log) o.log(fmt::format("[{}] {}", job_name(job), line));
}

void Runner::begin(JobId job) {
  Job& j = st.job(job);
  j.status = JobStatus::kRunning;
  j.started = util::now_seconds();
  j.reason.clear();
  save();
}

void Runner::end(JobId job, JobStatus status, const std::string& reason) {
  Job& j = st.job(job);
  j.status = status;
  j.ended = util::now_seconds();
  j.reason = reason;
  save();
  if (!reason.empty()) log(job, fmt::format("{}: {}", status_name(status), reason));
}

void Runner::skip(JobId job, const std::string& reason) {
  Job& j = st.job(job);
  j.status = JobStatus::kSkipped;
  j.reason = reason;
  save();
  log(job, "skipped: " + reason);
}

void Runner::end_running(JobStatus status, const std::string& reason) {
  for (auto& j : st.jobs)
    if (j.status == JobStatus::kRunning) end(j.id, status, reason);
}

util::Config Runner::train_config() const {
  return st.config_ref.empty() ? ws.config() : train::load_train_config(st.config_ref);
}

// The original workflow's conditions: compute only for a valid batch with new data;
// stop-infra always; promote only when improved; notify always.
Outcome Runner::execute() {
  // A lease left by a run killed with -9 is found here and released.
  for (const auto& r : leases.reap(*provider))
    log(JobId::kStartInfra, fmt::format("reaped {} {} (lease {}{}): {}", r.instance.provider, r.instance.id, r.lease_id,
                                        r.run_id.empty() ? "" : ", run " + r.run_id, r.reason));

  auto fail = [&](const std::exception& e) {
    end_running(JobStatus::kFailure, e.what());
    st.error = e.what();
    st.error_code = code_name_of(e);
    return Outcome::kFailed;
  };
  Outcome outcome = Outcome::kFailed;
  try {
    if (!st.done(JobId::kMergeAndValidate)) merge_and_validate();
    const ValidateOutputs& v = *st.validate;
    if (!v.validation_passed) {
      outcome = Outcome::kInvalid;
      for (JobId j : kComputeJobs) skip(j, fmt::format("validation failed ({} errors; see report.txt)", v.errors));
    } else if (v.new_images == 0) {
      outcome = Outcome::kNotImproved;
      for (JobId j : kComputeJobs) skip(j, "the batch adds no new images");
    } else {
      try {
        if (!st.done(JobId::kTrain)) {
          if (!st.done(JobId::kStartInfra) || held.empty()) start_infra();
          train();
        }
        outcome = st.train->improved ? Outcome::kImproved : Outcome::kNotImproved;
      } catch (const Cancelled& e) {
        end_running(JobStatus::kCancelled, e.what());
        outcome = Outcome::kCancelled;
        st.error = e.what();
      } catch (const std::exception& e) {
        outcome = fail(e);
      }
      stop_infra();  // always
      if (outcome == Outcome::kImproved) {
        promote();
      } else {
        skip(JobId::kPromote, outcome == Outcome::kNotImproved
                                  ? "the model did not improve; the batch is kept as a rejected submission"
                                  : "training did not finish");
        if (outcome == Outcome::kNotImproved) record_submission();
      }
    }
  } catch (const std::exception& e) {
    outcome = fail(e);
    if (!held.empty()) stop_infra();
  }
  notify(outcome);
  st.outcome = outcome;
  st.ended = util::now_seconds();
  save();
  reg.set_tag(st.run_id, "outcome", outcome_name(outcome));
  reg.finish_run(st.run_id,
                 outcome == Outcome::kFailed      ? registry::kFailure
                 : outcome == Outcome::kCancelled ? registry::kCancelled
                                                  : registry::kSuccess,
                 st.error);
  return outcome;
}

int outcome_exit_code(Outcome o, const std::string& error_code) {
  switch (o) {
    case Outcome::kImproved: return 0;
    case Outcome::kNotImproved: return 10;
    case Outcome::kInvalid: return 1;
    case Outcome::kCancelled: return 130;
    case Outcome::kFailed:
      for (int c = static_cast<int>(ErrorCode::kInvalidInput); c <= static_cast<int>(ErrorCode::kDenied); ++c)
        if (error_code_name(static_cast<ErrorCode>(c)) == error_code) return exit_code_for(static_cast<ErrorCode>(c));
      return 70;
  }
  return 70;
}

std::vector<fs::path> run_logs(const fs::path& dir, const std::string& job) {
  std::vector<fs::path> logs;
  std::error_code ec;
  if (!job.empty()) {
    fs::path l = dir / "jobs" / (job + ".log");
    if (!fs::exists(l, ec)) throw NotFound("{}: no such log (job names: see `wms runs show`)", l.string());
    return {l};
  }
  if (fs::exists(dir / "run.log", ec)) logs.push_back(dir / "run.log");
  std::size_t first_job = logs.size();
  for (auto& e : fs::directory_iterator(dir / "jobs", ec))
    if (e.path().extension() == ".log") logs.push_back(e.path());
  std::sort(logs.begin() + static_cast<std::ptrdiff_t>(first_job), logs.end());
  if (logs.empty()) throw NotFound("no logs in {}", dir.string());
  return logs;
}

State load_state(const data::Workspace& ws, const std::string& run_id) {
  auto reg = registry::open(ws);
  auto run = reg.find_run(run_id);
  if (!run || run->kind != "pipeline")
    throw NotFound("pipeline run '{}' does not exist (see `wms pipeline list`)", run_id);
  fs::path p = ws.run_dir(run->id) / "pipeline.json";
  auto j = nlohmann::json::parse(util::read_file(p, 16 << 20), nullptr, false);
  if (j.is_discarded()) throw Corrupt("{}: not valid JSON", p.string());
  try {
    return State::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw Corrupt("{}: not a pipeline state ({})", p.string(), e.what());
  }
}

Result run(const data::Workspace& ws, const Options& o) {
  registry::ProjectLock lock(ws, o.wait_seconds);
  auto reg = registry::open(ws);
  State st;
  st.images_dir = fs::absolute(o.batch.images_dir).lexically_normal().string();
  st.masks_dir = fs::absolute(o.batch.masks_dir).lexically_normal().string();
  st.config_ref = o.config_ref;
  if (!o.config_ref.empty()) train::load_train_config(o.config_ref);  // fail before anything starts
  st.run_id = reg.create_run({"pipeline", "", "", "", ""});
  st.started = util::now_seconds();
  fs::path dir = ws.run_dir(st.run_id);
  util::make_dirs(dir / "jobs");
  reg.set_run_dir(st.run_id, dir.string());
  reg.log_params(
      st.run_id,
      {{"images", st.images_dir}, {"masks", st.masks_dir}, {"config", st.config_ref}, {"attempts", o.attempts}});
  Runner r(ws, o, st);
  r.save();
  if (o.log) o.log("pipeline run " + st.run_id);
  Outcome outcome = r.execute();
  return {r.st, outcome};
}

Result resume(const data::Workspace& ws, const std::string& run_id, const Options& o) {
  registry::ProjectLock lock(ws, o.wait_seconds);
  State st = load_state(ws, run_id);
  if (st.outcome)
    throw Conflict("pipeline run {} already finished ({}); start a new run instead", st.run_id,
                   outcome_name(*st.outcome));
  // Every job from the first unfinished one runs again; compute is started afresh.
  bool again = false;
  for (auto& j : st.jobs) {
    if (j.status != JobStatus::kSuccess) again = true;
    if (again || (j.id == JobId::kStartInfra && st.job(JobId::kTrain).status != JobStatus::kSuccess)) {
      j.status = JobStatus::kQueued;
      j.reason.clear();
    }
  }
  Runner r(ws, o, st);
  r.log(JobId::kMergeAndValidate, "resuming run " + st.run_id);
  Outcome outcome = r.execute();
  return {r.st, outcome};
}

std::vector<nlohmann::json> submissions(const data::Workspace& ws) {
  std::vector<nlohmann::json> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(ws.submissions_dir(), ec)) {
    auto j = nlohmann::json::parse(util::read_file(e.path(), 16 << 20), nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.value("time", "") > b.value("time", ""); });
  return out;
}

}  // namespace wms::pipeline
