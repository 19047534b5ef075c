// pipeline.json: every job's typed outputs survive a write and a read (resume relies on
// it), jobs and statuses keep the original workflow's names, and unknown ones are refused.
#include "wms/pipeline/state.hpp"

#include <gtest/gtest.h>

namespace wms::pipeline {
namespace {

State full_state() {
  State s;
  s.run_id = "pipeline-1";
  s.images_dir = "/b/images";
  s.masks_dir = "/b/masks";
  s.outcome = Outcome::kImproved;
  s.started = 1.5;
  s.ended = 9.25;
  for (auto& j : s.jobs) j.status = JobStatus::kSuccess;
  s.job(JobId::kNotify).status = JobStatus::kFailure;
  s.job(JobId::kNotify).reason = "webhook config";
  s.validate = ValidateOutputs{true, 30, 10, 20, 2, 0, 1, std::string("a1"), std::string("b2"), "data/x", "c0ffee"};
  s.infra = InfraOutputs{"i-1", "10.0.0.1", "ec2"};
  s.train = TrainOutputs{true, 0.91, 0.84, "train-1", 3, 2, 7, "better", 2, 0.88};
  s.stop = StopOutputs{"i-1", "ec2", "t3.large", 0.02, 61.5};
  s.promote = PromoteOutputs{"b2", 3, "", "", 12, "https://h/pr/12", "auto", "", ""};
  s.notify = NotifyOutputs{"improved", {{"https://hooks", false, 3, "timeout"}}, 1};
  return s;
}

TEST(PipelineState, RoundTripsEveryJobsOutputs) {
  State s = full_state();
  nlohmann::json j = s.to_json();
  EXPECT_EQ(State::from_json(j).to_json(), j);
  EXPECT_EQ(j["jobs"][0]["name"], "merge-and-validate");
  EXPECT_EQ(j["jobs"][5]["status"], "failure");
  EXPECT_EQ(j["outcome"], "improved");
  const auto& v = j["jobs"][0]["outputs"];
  EXPECT_EQ(v["total_images"], 30);
  EXPECT_EQ(v["existing_images"], 20);
  EXPECT_EQ(v["branch"], "data/x");
  const auto& t = j["jobs"][2]["outputs"];
  EXPECT_EQ(t["champion_version"], 2);
  EXPECT_EQ(t["decision_id"], 7);
  EXPECT_EQ(j["jobs"][4]["outputs"]["pr_number"], 12);
  EXPECT_FALSE(j["jobs"][4]["outputs"].contains("pr_error")) << "only what happened is written";
}

TEST(PipelineState, AJobWithoutOutputsShowsAnEmptyObject) {
  State s;
  s.run_id = "r";
  auto j = s.to_json();
  for (const auto& job : j["jobs"]) {
    EXPECT_EQ(job["outputs"], nlohmann::json::object());
    EXPECT_EQ(job["status"], "queued");
  }
  EXPECT_EQ(j["outcome"], "");
  EXPECT_FALSE(State::from_json(j).outcome);
}

TEST(PipelineState, UnknownJobsAndStatusesAreRefused) {
  auto j = full_state().to_json();
  auto bad_job = j;
  bad_job["jobs"][1]["name"] = "deploy";
  EXPECT_THROW(State::from_json(bad_job), nlohmann::json::exception);
  auto bad_status = j;
  bad_status["jobs"][1]["status"] = "maybe";
  EXPECT_THROW(State::from_json(bad_status), nlohmann::json::exception);
}

}  // namespace
}  // namespace wms::pipeline
