// merge-and-validate: the batch is validated against the dataset and stored as a
// candidate version (the head does not move); in git mode its pointer files are
// committed on a data branch of their own.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

#include "wms/data/ingest.hpp"
#include "wms/pipeline/runner.hpp"
#include "wms/pipeline/sync.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {

void Runner::merge_and_validate() {
  const JobId job = JobId::kMergeAndValidate;
  begin(job);
  // With a default remote, the head's objects come first (a fresh machine has none); a
  // pull that fails fails the job: never train on the new batch alone.
  std::optional<SyncOutputs> pulled;
  if (auto remote = default_remote(ws)) {
    remote->should_stop = o.should_stop;
    auto s = ensure_head_present(ws, *remote);
    pulled = SyncOutputs{remote->config().name, s.transferred, s.present, s.bytes, s.seconds};
    log(job, remote->config().label() + ": " + s.text("pulled"));
  }
  auto options = data::validation_options(ws.config());
  options.threads = o.threads;
  data::BatchSource batch{st.images_dir, st.masks_dir, fs::path(st.images_dir).parent_path().string()};
  auto base = data::Dataset(ws).head();
  auto r = data::add_batch(ws, batch, options, "pipeline " + st.run_id, /*accept=*/false);
  const auto& rep = r.validation.report;
  util::atomic_write(dir / "report.json", rep.to_json().dump(2) + "\n");
  const std::string text = rep.to_text();
  util::atomic_write(dir / "report.txt", text);
  for (std::size_t start = 0, nl; start < text.size(); start = nl + 1) {
    nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) log(job, text.substr(start, nl - start));
  }
  ValidateOutputs out;
  out.pull = pulled;
  out.validation_passed = rep.ok();
  out.total_images = rep.total_images;
  out.new_images = rep.new_images;
  out.existing_images = rep.existing_images;
  out.duplicate_images = rep.duplicate_images;
  out.errors = rep.errors();
  out.warnings = rep.warnings();
  if (base) out.base_version = base->id;
  if (r.version) out.candidate_version = r.version->id;
  if (git && r.version) {
    // The batch as a commit of pointer files (not pictures) on its own branch.
    std::string stamp = util::utc_now("%Y%m%d-%H%M%S");
    out.branch = "data/" + stamp;
    for (int k = 2; !git->branch_commit(out.branch).empty(); ++k) out.branch = fmt::format("data/{}-{}", stamp, k);
    out.commit = git->commit_files(out.branch, git->head_branch(), git_files(*r.version, false),
                                   fmt::format("data: {} new images ({} in all)\n\nwms pipeline {}\nbatch: {}\n",
                                               rep.new_images, rep.total_images, st.run_id, st.images_dir));
    log(job, fmt::format("git: committed the pointer files on {} ({})", out.branch, out.commit.substr(0, 10)));
  }
  st.validate = out;
  end(job, JobStatus::kSuccess);
}

}  // namespace wms::pipeline
