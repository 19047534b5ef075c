// notify: the outcome to every configured webhook (a notification never changes the
// outcome), and the record of a batch that did not improve the model.
#include <fmt/format.h>

#include "wms/pipeline/notify.hpp"
#include "wms/pipeline/runner.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {

void Runner::notify(Outcome outcome) {
  const JobId job = JobId::kNotify;
  begin(job);
  try {
    auto no = notify_options(ws.config());
    std::string summary = outcome_name(outcome);
    if (st.train)
      summary = fmt::format("{}: dice {:.4f}, model version {}", outcome_name(outcome), st.train->dice,
                            st.train->model_version);
    nlohmann::json payload = {{"run_id", st.run_id},
                              {"outcome", outcome_name(outcome)},
                              {"summary", summary},
                              {"workspace", ws.root().string()},
                              {"validation", st.outputs_json(JobId::kMergeAndValidate)},
                              {"train", st.outputs_json(JobId::kTrain)}};
    NotifyOutputs out;
    out.event = outcome_name(outcome);
    out.deliveries = pipeline::notify(no, outcome_name(outcome), payload);
    for (const auto& d : out.deliveries) {
      log(job, d.ok ? fmt::format("sent to {}", d.target)
                    : fmt::format("webhook {} failed after {} attempt(s): {} (the run is not affected)", d.target,
                                  d.attempts, d.error));
      out.failed += !d.ok;
    }
    if (out.deliveries.empty()) log(job, "no webhooks configured");
    st.notify = out;
    end(job, JobStatus::kSuccess);
  } catch (const std::exception& e) {
    end(job, JobStatus::kFailure, e.what());
  }
}

// .wms/submissions/<run>.json: the batch, its validation and the best attempt.
void Runner::record_submission() {
  util::make_dirs(ws.submissions_dir());
  nlohmann::json s = {{"run_id", st.run_id},
                      {"time", util::iso_time(util::now_seconds())},
                      {"images", st.images_dir},
                      {"masks", st.masks_dir},
                      {"validation", st.outputs_json(JobId::kMergeAndValidate)},
                      {"train", st.outputs_json(JobId::kTrain)},
                      {"status", "rejected"}};
  util::atomic_write(ws.submissions_dir() / (st.run_id + ".json"), s.dump(2) + "\n");
}

}  // namespace wms::pipeline
