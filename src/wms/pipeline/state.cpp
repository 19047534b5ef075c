#include "wms/pipeline/state.hpp"

namespace wms::pipeline {
namespace {

using nlohmann::json;

template <typename T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <typename T>
std::optional<T> opt(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}

json encode(const SyncOutputs& o) {
  return {{"remote", o.remote},
          {"transferred", o.transferred},
          {"present", o.present},
          {"bytes", o.bytes},
          {"seconds", o.seconds}};
}

std::optional<SyncOutputs> sync_from(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& s = j[key];
  return SyncOutputs{s.value("remote", ""), s.value("transferred", std::uint64_t{0}),
                     s.value("present", std::uint64_t{0}), s.value("bytes", std::uint64_t{0}), s.value("seconds", 0.0)};
}

json encode(const ValidateOutputs& o) {
  json j = {{"validation_passed", o.validation_passed},
            {"total_images", o.total_images},
            {"new_images", o.new_images},
            {"existing_images", o.existing_images},
            {"duplicate_images", o.duplicate_images},
            {"errors", o.errors},
            {"warnings", o.warnings},
            {"base_version", or_null(o.base_version)},
            {"candidate_version", or_null(o.candidate_version)}};
  if (!o.branch.empty()) j["branch"] = o.branch, j["commit"] = o.commit;
  if (o.pull) j["pull"] = encode(*o.pull);
  return j;
}

ValidateOutputs validate_from(const json& j) {
  ValidateOutputs o;
  o.validation_passed = j.at("validation_passed").get<bool>();
  o.total_images = j.value("total_images", std::size_t{0});
  o.new_images = j.value("new_images", std::size_t{0});
  o.existing_images = j.value("existing_images", std::size_t{0});
  o.duplicate_images = j.value("duplicate_images", std::size_t{0});
  o.errors = j.value("errors", std::size_t{0});
  o.warnings = j.value("warnings", std::size_t{0});
  o.base_version = opt<std::string>(j, "base_version");
  o.candidate_version = opt<std::string>(j, "candidate_version");
  o.branch = j.value("branch", "");
  o.commit = j.value("commit", "");
  o.pull = sync_from(j, "pull");
  return o;
}

json encode(const InfraOutputs& o) {
  return {{"instance_id", o.instance_id}, {"address", o.address}, {"provider", o.provider}, {"instances", o.instances}};
}

InfraOutputs infra_from(const json& j) {
  InfraOutputs o{j.value("instance_id", ""), j.value("address", ""), j.value("provider", ""), {}};
  o.instances = j.value("instances", std::vector<std::string>{o.instance_id});
  return o;
}

json encode(const TrainOutputs& o) {
  return {{"improved", o.improved},
          {"dice", o.dice},
          {"iou", o.iou},
          {"run_id", o.run_id},
          {"model_version", o.model_version},
          {"attempts", o.attempts},
          {"decision_id", o.decision_id},
          {"reason", o.reason},
          {"champion_version", or_null(o.champion_version)},
          {"champion_dice", or_null(o.champion_dice)}};
}

TrainOutputs train_from(const json& j) {
  TrainOutputs o;
  o.improved = j.at("improved").get<bool>();
  o.dice = j.value("dice", 0.0);
  o.iou = j.value("iou", 0.0);
  o.run_id = j.value("run_id", "");
  o.model_version = j.at("model_version").get<int>();
  o.attempts = j.value("attempts", 0);
  o.decision_id = j.value("decision_id", std::int64_t{0});
  o.reason = j.value("reason", "");
  o.champion_version = opt<int>(j, "champion_version");
  o.champion_dice = opt<double>(j, "champion_dice");
  return o;
}

json encode(const StopOutputs& o) {
  return {{"instance_id", o.instance_id},
          {"provider", o.provider},
          {"instance_type", o.instance_type},
          {"cost", o.cost},
          {"seconds", o.seconds},
          {"machines", o.machines}};
}

StopOutputs stop_from(const json& j) {
  return {j.value("instance_id", ""), j.value("provider", ""), j.value("instance_type", ""), j.value("cost", 0.0),
          j.value("seconds", 0.0),    j.value("machines", 1)};
}

json encode(const PromoteOutputs& o) {
  json j = {{"dataset_version", o.dataset_version}, {"production", o.production}};
  if (!o.merge_commit.empty()) j["merge_commit"] = o.merge_commit, j["branch"] = o.branch;
  if (o.pr_number) j["pr_number"] = *o.pr_number, j["pr_url"] = o.pr_url, j["pr_merge"] = o.pr_merge;
  if (!o.pr_note.empty()) j["pr_note"] = o.pr_note;
  if (!o.pr_error.empty()) j["pr_error"] = o.pr_error;
  if (o.push) j["push"] = encode(*o.push);
  return j;
}

PromoteOutputs promote_from(const json& j) {
  PromoteOutputs o;
  o.dataset_version = j.value("dataset_version", "");
  o.production = j.value("production", 0);
  o.merge_commit = j.value("merge_commit", "");
  o.branch = j.value("branch", "");
  o.pr_number = opt<int>(j, "pr_number");
  o.pr_url = j.value("pr_url", "");
  o.pr_merge = j.value("pr_merge", "");
  o.pr_note = j.value("pr_note", "");
  o.pr_error = j.value("pr_error", "");
  o.push = sync_from(j, "push");
  return o;
}

json encode(const NotifyOutputs& o) {
  json d = json::array();
  for (const auto& x : o.deliveries)
    d.push_back({{"target", x.target}, {"ok", x.ok}, {"attempts", x.attempts}, {"error", x.error}});
  return {{"event", o.event}, {"deliveries", d}, {"failed", o.failed}};
}

NotifyOutputs notify_from(const json& j) {
  NotifyOutputs o;
  o.event = j.value("event", "");
  for (const auto& x : j.value("deliveries", json::array()))
    o.deliveries.push_back({x.value("target", ""), x.value("ok", false), x.value("attempts", 0), x.value("error", "")});
  o.failed = j.value("failed", 0);
  return o;
}

JobStatus parse_status(const std::string& s) {
  for (auto st : {JobStatus::kQueued, JobStatus::kRunning, JobStatus::kSuccess, JobStatus::kFailure,
                  JobStatus::kSkipped, JobStatus::kCancelled})
    if (status_name(st) == s) return st;
  throw json::other_error::create(501, "unknown job status '" + s + "'", nullptr);
}

}  // namespace

std::string_view job_name(JobId id) {
  switch (id) {
    case JobId::kMergeAndValidate: return "merge-and-validate";
    case JobId::kStartInfra: return "start-infra";
    case JobId::kTrain: return "train";
    case JobId::kStopInfra: return "stop-infra";
    case JobId::kPromote: return "promote";
    case JobId::kNotify: return "notify";
  }
  return "?";
}

std::string_view status_name(JobStatus s) {
  switch (s) {
    case JobStatus::kQueued: return "queued";
    case JobStatus::kRunning: return "running";
    case JobStatus::kSuccess: return "success";
    case JobStatus::kFailure: return "failure";
    case JobStatus::kSkipped: return "skipped";
    case JobStatus::kCancelled: return "cancelled";
  }
  return "?";
}

std::string outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kImproved: return "improved";
    case Outcome::kNotImproved: return "not_improved";
    case Outcome::kInvalid: return "invalid";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kFailed: return "failed";
  }
  return "failed";
}

bool State::done(JobId id) const {
  auto s = job(id).status;
  return s == JobStatus::kSuccess || s == JobStatus::kSkipped;
}

json State::outputs_json(JobId id) const {
  switch (id) {
    case JobId::kMergeAndValidate: return validate ? encode(*validate) : json::object();
    case JobId::kStartInfra: return infra ? encode(*infra) : json::object();
    case JobId::kTrain: return train ? encode(*train) : json::object();
    case JobId::kStopInfra: return stop ? encode(*stop) : json::object();
    case JobId::kPromote: return promote ? encode(*promote) : json::object();
    case JobId::kNotify: return notify ? encode(*notify) : json::object();
  }
  return json::object();
}

json State::to_json() const {
  json js = json::array();
  for (const auto& j : jobs)
    js.push_back({{"name", job_name(j.id)},
                  {"status", status_name(j.status)},
                  {"started", j.started},
                  {"ended", j.ended},
                  {"outputs", outputs_json(j.id)},
                  {"reason", j.reason}});
  return {{"run_id", run_id},
          {"images", images_dir},
          {"masks", masks_dir},
          {"config", config_ref},
          {"outcome", outcome ? outcome_name(*outcome) : ""},
          {"error", error},
          {"error_code", error_code},
          {"started", started},
          {"ended", ended},
          {"jobs", js}};
}

State State::from_json(const json& j) {
  State s;
  s.run_id = j.at("run_id");
  s.images_dir = j.at("images");
  s.masks_dir = j.at("masks");
  s.config_ref = j.value("config", "");
  std::string outcome = j.value("outcome", "");
  for (auto o : {Outcome::kImproved, Outcome::kNotImproved, Outcome::kInvalid, Outcome::kFailed, Outcome::kCancelled})
    if (outcome_name(o) == outcome) s.outcome = o;
  s.error = j.value("error", "");
  s.error_code = j.value("error_code", "");
  s.started = j.value("started", 0.0);
  s.ended = j.value("ended", 0.0);
  for (const auto& x : j.at("jobs")) {
    const std::string name = x.at("name");
    auto it = std::find_if(kJobs.begin(), kJobs.end(), [&](JobId id) { return job_name(id) == name; });
    if (it == kJobs.end()) throw json::other_error::create(501, "unknown job '" + name + "'", nullptr);
    Job& job = s.job(*it);
    job.status = parse_status(x.at("status"));
    job.started = x.value("started", 0.0);
    job.ended = x.value("ended", 0.0);
    job.reason = x.value("reason", "");
    const json out = x.value("outputs", json::object());
    if (out.empty()) continue;
    switch (*it) {
      case JobId::kMergeAndValidate: s.validate = validate_from(out); break;
      case JobId::kStartInfra: s.infra = infra_from(out); break;
      case JobId::kTrain: s.train = train_from(out); break;
      case JobId::kStopInfra: s.stop = stop_from(out); break;
      case JobId::kPromote: s.promote = promote_from(out); break;
      case JobId::kNotify: s.notify = notify_from(out); break;
    }
  }
  return s;
}

}  // namespace wms::pipeline
