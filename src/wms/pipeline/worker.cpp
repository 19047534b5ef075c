#include "wms/pipeline/worker.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <thread>

#include "wms/data/dataset.hpp"
#include "wms/data/remote.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/signals.hpp"
#include "wms/util/subprocess.hpp"
#include "wms/version.hpp"

namespace wms::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path lease_file(const std::string& dir, const std::string& lease, const char* ext) {
  if (lease.empty() || lease.find_first_of("/\\") != std::string::npos || lease[0] == '.')
    throw InvalidInput("--lease '{}': not a lease id", lease);
  return fs::path(dir) / "leases" / (lease + ext);
}

std::string host_name() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? buf : "?";
}

nlohmann::json read_json(const fs::path& p) {
  auto j = nlohmann::json::parse(util::read_file(p, 1 << 20), nullptr, false);
  if (!j.is_object()) throw Corrupt("{}: not a lease record", p.string());
  return j;
}

// The worker's process recorded beside its lease: "pid starttime".
std::pair<int, std::string> read_pid(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return {0, ""};
  std::string s = util::read_file(p, 4096);
  int pid = std::atoi(s.c_str());
  auto sp = s.find(' ');
  std::string start = sp == std::string::npos ? "" : s.substr(sp + 1);
  while (!start.empty() && (start.back() == '\n' || start.back() == ' ')) start.pop_back();
  return {pid, start};
}

void emit(const nlohmann::json& j) {
  std::fprintf(stdout, "%s\n", j.dump().c_str());
  std::fflush(stdout);
}

// Epochs as JSON lines on stdout, for the controller.
struct StdoutSink : train::MetricsSink {
  std::uint64_t seed = 0;
  void epoch(const train::EpochMetrics& m) override {
    util::failpoint(fmt::format("worker.epoch.seed{}", seed));  // tests: one attempt on a slower machine
    emit({{"epoch", m.to_json()}});
  }
};

}  // namespace

Trainer remote_trainer(const data::Workspace& ws, infra::Provider& provider, const infra::Lease& lease,
                       const std::string& worker_dir, WorkerJob job, std::function<void(const std::string&)> log) {
  return
      [&ws, &provider, lease, worker_dir, job, log](
          const std::vector<train::Sample>&, const std::vector<train::Sample>&, const train::TrainOptions& options,
          train::MetricsSink* sink, const std::function<bool()>& should_stop, const nn::Model*) -> train::TrainResult {
        const std::string& where = lease.instance.address;
        auto argv = provider.remote_argv(
            lease.instance, {provider.wms_program(), "worker", "train", "--dir", worker_dir, "--lease", lease.id,
                             "--version", job.dataset_version, "--seed", std::to_string(options.seed)});
        if (log) log(fmt::format("training on {} ({}, lease {})", where, lease.instance.provider, lease.id));
        util::Subprocess p(argv);
        nlohmann::json hello = {{"workspace_config", job.workspace_config},
                                {"train_config", job.train_config},
                                {"preset", job.preset},
                                {"device", job.device},
                                {"init", job.init_md5.value_or("")}};
        try {
          p.write_stdin(hello.dump() + "\n");  // and it stays open: closing it stops the worker
        } catch (const IoError&) {             // it ended at once: its stderr says why
        }
        train::TrainResult r;
        std::optional<nlohmann::json> result;
        std::deque<std::string> tail;
        int rc = p.wait(
            [&](const std::string& line) {
              auto j = nlohmann::json::parse(line, nullptr, false);
              if (j.is_object() && j.contains("epoch")) {
                auto m = train::EpochMetrics::from_json(j["epoch"]);
                r.history.push_back(m);
                if (sink) sink->epoch(m);
              } else if (j.is_object() && j.contains("result")) {
                result = j["result"];
              } else if (log) {
                log(fmt::format("[{}] {}", where, line));
              }
            },
            [&](const std::string& line) {
              if (log) log(fmt::format("[{}] {}", where, line));
              tail.push_back(line);
              if (tail.size() > 3) tail.pop_front();
            },
            should_stop);
        if (p.stopped()) throw Cancelled("training on {} was cancelled; its worker stops with its connection", where);
        if (rc != 0 || !result) {
          std::string last;
          for (const auto& l : tail) last += (last.empty() ? "" : " | ") + l;
          throw Unavailable("the worker on {} failed (exit {}): {}", where, rc, last.empty() ? "no output" : last);
        }
        std::string md5 = result->value("bundle_md5", "");
        data::Remote remote(ws, data::remote_config(ws.config()));
        auto s = remote.pull({}, {md5});
        if (!s.ok())
          throw Corrupt("the worker on {} pushed bundle {}, but {} does not hold it intact ({})", where, md5,
                        remote.config().label(), !s.corrupt.empty() ? s.corrupt.front() : "missing");
        r.model = nn::Model::from_bytes(ws.store().read(md5), "the bundle trained on " + where);
        r.best_epoch = result->value("best_epoch", 0);
        r.seconds = result->value("seconds", 0.0);
        r.stop_reason = result->value("stop_reason", "");
        if (log)
          log(fmt::format("fetched the bundle {} from {} ({})", md5.substr(0, 10), remote.config().label(),
                          s.text("pulled")));
        return r;
      };
}

int worker_lease_open(const std::string& dir, const std::string& lease, const std::string& owner, double deadline,
                      const std::string& expect_version, bool shared) {
  if (expect_version != kVersion)
    throw InvalidInput(
        "this host ({}) runs wms {} and the controller wms {}: install wms {} here (scripts/setup.sh at that "
        "version), or point infra.ssh.wms at a wms of that version",
        host_name(), kVersion, expect_version, expect_version);
  fs::path f = lease_file(dir, lease, ".json");
  util::make_dirs(f.parent_path());
  double now = util::now_seconds();
  std::error_code ec;
  for (fs::directory_iterator it(f.parent_path(), ec), end; !shared && !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json" || it->path() == f) continue;
    auto other = read_json(it->path());
    if (other.value("deadline", 0.0) > now)
      throw Conflict("this host ({}) holds lease {} of {} until {}", host_name(), other.value("lease", "?"),
                     other.value("owner", "?"), util::iso_time(other.value("deadline", 0.0)));
  }
  nlohmann::json rec = {{"lease", lease}, {"owner", owner},      {"deadline", deadline},
                        {"opened", now},  {"host", host_name()}, {"version", kVersion}};
  util::atomic_write(f, rec.dump(2) + "\n");
  emit(rec);
  return 0;
}

int worker_lease_close(const std::string& dir, const std::string& lease) {
  fs::path rec = lease_file(dir, lease, ".json"), pidf = lease_file(dir, lease, ".pid");
  auto [pid, start] = read_pid(pidf);
  bool stopped = false;
  if (infra::process_alive(pid, start)) {
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100 && infra::process_alive(pid, start); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (infra::process_alive(pid, start)) ::kill(pid, SIGKILL);
    stopped = true;
  }
  std::error_code ec;
  fs::remove(pidf, ec);
  fs::remove(rec, ec);
  emit({{"lease", lease}, {"worker_stopped", stopped}});
  return 0;
}

int worker_leases(const std::string& dir) {
  nlohmann::json out = nlohmann::json::array();
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(dir) / "leases", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    auto j = read_json(it->path());
    auto [pid, start] = read_pid(fs::path(it->path()).replace_extension(".pid"));
    j["worker_alive"] = infra::process_alive(pid, start);
    out.push_back(j);
  }
  emit(out);
  return 0;
}

int worker_train(const std::string& dir, const std::string& lease, const std::string& version, std::uint64_t seed) {
  fs::path rec = lease_file(dir, lease, ".json");
  std::error_code ec;
  if (!fs::exists(rec, ec))
    throw NotFound("no lease {} on this host ({}): the controller opens one first (wms worker lease-open)", lease,
                   host_name());
  double deadline = read_json(rec).value("deadline", 0.0);
  std::string line;
  if (!std::getline(std::cin, line)) throw InvalidInput("wms worker train: expected the job on stdin (one JSON line)");
  auto hello = nlohmann::json::parse(line, nullptr, false);
  if (!hello.is_object()) throw InvalidInput("wms worker train: stdin's first line is not a JSON object");
  util::atomic_write(lease_file(dir, lease, ".pid"),
                     fmt::format("{} {}\n", ::getpid(), infra::process_start(::getpid())));
  // The controller's end of stdin: when it closes, the controller is gone.
  static std::atomic<bool> orphaned{false};
  std::thread([] {
    char c;
    while (std::cin.get(c)) {
    }
    orphaned = true;
  }).detach();
  auto should_stop = [deadline] { return orphaned.load() || util::interrupted() || util::now_seconds() > deadline; };

  fs::path root = fs::path(dir) / "ws";
  data::Workspace::init(root);
  util::atomic_write(root / "wms.yaml", hello.value("workspace_config", ""));
  auto ws = data::Workspace::open(root);
  if (data::default_remote_name(ws.config()).empty())
    throw InvalidInput("the project's wms.yaml names no default remote: the worker takes its data from it");
  data::Remote remote(ws, data::remote_config(ws.config()));
  std::string init_md5 = hello.value("init", "");
  auto pulled = remote.pull({version}, init_md5.empty() ? std::vector<std::string>{} : std::vector{init_md5});
  if (!pulled.ok())
    throw NotFound("{}: the version {} is not complete there ({})", remote.config().label(), version,
                   !pulled.missing.empty() ? pulled.missing.front() : pulled.corrupt.front());
  std::fprintf(stderr, "worker on %s: %s\n", host_name().c_str(), pulled.text("pulled").c_str());
  std::string text = hello.value("train_config", "");
  util::Config cfg = text.empty() ? train::load_train_config(hello.value("preset", ""))
                                  : util::Config::parse(text, "the controller's training config");
  auto opts = train::train_options(cfg);
  opts.seed = seed;
  opts.device = train::kDeviceNames.parse(hello.value("device", "auto"), "device");
  std::optional<nn::Model> init;
  if (!init_md5.empty()) init = nn::Model::from_bytes(ws.store().read(init_md5), "production's bundle");
  auto samples = train::samples_from_version(ws, data::Dataset(ws).get(version));
  auto train_set = train::only(samples, data::Split::kTrain);
  if (train_set.empty()) throw InvalidInput("version {}: the train split is empty", version);
  StdoutSink sink;
  sink.seed = seed;
  auto result = train::train_model(train_set, train::only(samples, data::Split::kVal), opts, &sink, should_stop,
                                   init ? &*init : nullptr);
  std::string md5 = ws.store().put_bytes(result.model->to_bytes());
  auto pushed = remote.push({}, {md5});
  if (!pushed.ok()) throw Unavailable("{}: could not push the bundle {}", remote.config().label(), md5);
  emit({{"result",
         {{"bundle_md5", md5},
          {"best_epoch", result.best_epoch},
          {"seconds", result.seconds},
          {"stop_reason", result.stop_reason},
          {"epochs_run", result.history.size()},
          {"host", host_name()}}}});
  fs::remove(lease_file(dir, lease, ".pid"), ec);
  return 0;
}

}  // namespace wms::pipeline
