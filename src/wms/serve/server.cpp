#include "wms/serve/server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "wms/image/decode.hpp"
#include "wms/serve/http_server.hpp"
#include "wms/pipeline/pipeline.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/serve/metrics.hpp"
#include "wms/train/predictor.hpp"
#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"
#include "wms/util/parallel.hpp"

namespace wms::serve {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// An HTTP error with a status code (thrown inside handlers, answered as JSON).
struct HttpError : std::runtime_error {
  int status;
  HttpError(int s, const std::string& m) : std::runtime_error(m), status(s) {}
};

int status_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidInput: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kUnavailable: return 503;
    default: return 500;
  }
}

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", {{"code", status}, {"message", message}}}});
  if (status == 503) res.set_header("Retry-After", "1");
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(t[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(t[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

// The media type of a Content-Type value, RFC 9110 section 8.3.1: type "/" subtype,
// compared case-insensitively, with parameters and whitespace around ';' allowed.
// "" when the value is not a media type.
std::string media_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  auto slash = v.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == v.size()) return "";
  std::string out;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == ',') return "";
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Constant-time comparison (the token is a secret).
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() != b.size();
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

struct Server::Impl {
  const data::Workspace& ws;
  ServeOptions o;
  Metrics metrics;
  HttpServer http;
  std::thread listener, reloader;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
  int bound_port = 0;

  struct Served {
    int version = 0;
    std::shared_ptr<train::Predictor> predictor;
  };
  std::mutex served_mu;
  std::shared_ptr<const Served> served;  // guarded by served_mu; swapped whole
  std::string not_ready = "loading";     // guarded by served_mu

  // All the CPU work of a prediction (decoding, the forward pass) runs on one compute
  // thread that uses every core in turn: HTTP workers decoding while the model's
  // OpenMP team runs would make its threads wait on each other at every barrier (8
  // clients: 11.6 req/s that way, against 16.6 for one client). Requests queue here
  // (bounded by max_queue) and are micro-batched; HTTP workers only move bytes.
  struct Job {
    std::string bytes;         // the upload, decoded on the compute thread
    image::DecodeLimits limits;
    cv::Mat photo;             // decoded (or given, for the warm-up)
    std::shared_ptr<const Served> model;
    std::promise<train::Prediction> done;
  };
  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<std::shared_ptr<Job>> jobs;  // guarded by jobs_mu
  std::thread compute;

  void compute_loop() {
    for (;;) {
      std::vector<std::shared_ptr<Job>> batch;
      {
        std::unique_lock lock(jobs_mu);
        jobs_cv.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;  // stopping and drained
        // Same model and up to 8 photos per forward pass.
        while (!jobs.empty() && batch.size() < 8 && (batch.empty() || jobs.front()->model == batch[0]->model)) {
          batch.push_back(jobs.front());
          jobs.pop_front();
        }
      }
      // Decode on every core; a photo that cannot be decoded answers its own request.
      std::vector<std::exception_ptr> failed(batch.size());
      util::parallel_for(batch.size(), o.compute_threads, [&](std::size_t i) {
        try {
          if (batch[i]->photo.empty()) batch[i]->photo = image::decode_image(batch[i]->bytes, "upload", batch[i]->limits).pixels;
        } catch (...) {
          failed[i] = std::current_exception();
        }
      });
      std::vector<std::shared_ptr<Job>> ok;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (failed[i]) batch[i]->done.set_exception(failed[i]);
        else ok.push_back(batch[i]);
      }
      if (ok.empty()) continue;
      try {
        std::vector<cv::Mat> photos;
        for (auto& j : ok) photos.push_back(j->photo);
        auto preds = ok[0]->model->predictor->predict_batch(photos);
        for (std::size_t i = 0; i < ok.size(); ++i) ok[i]->done.set_value(std::move(preds[i]));
      } catch (...) {
        for (auto& j : ok) j->done.set_exception(std::current_exception());
      }
    }
  }

  // Queues a job and waits for its prediction; returns the decoded photo in `photo`.
  train::Prediction infer(const std::shared_ptr<const Served>& s, std::string bytes, const image::DecodeLimits& limits,
                          cv::Mat& photo) {
    auto job = std::make_shared<Job>();
    job->bytes = std::move(bytes);
    job->limits = limits;
    job->photo = photo;
    job->model = s;
    auto result = job->done.get_future();
    {
      // Under the lock the compute thread cannot have left (it leaves only when stopping
      // with an empty queue), so a job queued here is always answered.
      std::lock_guard lock(jobs_mu);
      if (stopping) throw HttpError(503, "the server is stopping");
      jobs.push_back(job);
    }
    jobs_cv.notify_one();
    auto p = result.get();
    photo = job->photo;
    return p;
  }

  static HttpLimits http_limits(const ServeOptions& o) {
    HttpLimits l;
    l.workers = std::max(1, o.http_threads);
    l.max_body_bytes = o.max_upload_bytes + (64 << 10);  // multipart framing around the photo
    l.header_timeout = o.header_timeout;
    l.body_timeout = o.body_timeout;
    l.keep_alive_timeout = o.keep_alive_timeout;
    l.max_buffered_bytes = o.max_upload_memory;
    return l;
  }

  Impl(const data::Workspace& w, ServeOptions opts)
      : ws(w), o(std::move(opts)), http(http_limits(o), [this](int status) { metrics.request("(front)", status, 0); }) {}

  std::shared_ptr<const Served> current() {
    std::lock_guard lock(served_mu);
    return served;
  }

  // Loads production if it moved; the old predictor serves until the new one is warm.
  void reload() {
    registry::Registry reg(registry::registry_path(ws));
    auto v = reg.alias(registry::kProduction);
    auto cur = current();
    if (!v) {
      std::lock_guard lock(served_mu);
      not_ready = "no production model yet (promote one with `wms models promote`)";
      return;
    }
    if (cur && cur->version == *v) return;
    train::PredictOptions po;
    po.device = o.device;
    po.threads = o.compute_threads;
    po.precision = o.precision;
    auto next = std::make_shared<Served>();
    next->version = *v;
    next->predictor = std::make_shared<train::Predictor>(registry::load_version(ws, reg, *v), po);
    int size = next->predictor->model().info().config.input_size;
    cv::Mat grey(size, size, CV_8UC3, cv::Scalar(128, 128, 128));
    infer(next, "", {}, grey);  // warm up on the compute thread
    {
      std::lock_guard lock(served_mu);
      served = next;
    }
    metrics.model_loaded(*v, registry::now_seconds());
  }

  void reload_loop() {
    while (!stopping) {
      try {
        reload();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "wms serve: reload failed: %s\n", e.what());
        std::lock_guard lock(served_mu);
        if (!served) not_ready = std::string("the production model could not be loaded: ") + e.what();
      }
      for (int i = 0; i < static_cast<int>(o.reload_seconds * 10) && !stopping; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Runs a handler: no exception ever leaves it; every answer is counted and timed.
  void answer(const std::string& route, httplib::Response& res, const std::function<void()>& f) {
    auto t0 = Clock::now();
    try {
      f();
    } catch (const HttpError& e) {
      send_error(res, e.status, e.what());
    } catch (const image::ImageError& e) {
      send_error(res, e.rule() == "image.too_large" ? 422 : 400, e.what());
    } catch (const Error& e) {
      send_error(res, status_for(e), e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
    if (res.status == -1) res.status = 200;  // httplib's "not set yet" means a plain success
    metrics.request(route, res.status, std::chrono::duration<double>(Clock::now() - t0).count());
  }

  httplib::Server::Handler guarded(const std::string& route,
                                   std::function<void(const httplib::Request&, httplib::Response&)> f) {
    return [this, route, f](const httplib::Request& req, httplib::Response& res) {
      answer(route, res, [&] { f(req, res); });
    };
  }

  void require_token(const httplib::Request& req) {
    if (o.token.empty()) throw HttpError(404, "this route is disabled: start the server with WMS_API_TOKEN set");
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), o.token))
      throw HttpError(401, "a valid 'Authorization: Bearer <token>' header is required");
  }

  // The photo bytes of a predict request. The media type is checked before any byte
  // of the body is read, so a wrong one gets 415 whatever the size.
  // The media type of a predict request, checked before anything else (415 whatever
  // the size, with or without a model).
  std::string photo_type(const httplib::Request& req) {
    std::string type = media_type(req.get_header_value("Content-Type"));
    if (type != "multipart/form-data" && type != "image/jpeg" && type != "image/png" && type != "application/octet-stream")
      throw HttpError(415, fmt::format("the body is {}; send the photo as image/jpeg or image/png (raw body, e.g. curl "
                                       "--data-binary @photo.jpg -H 'Content-Type: image/jpeg'), or multipart/form-data "
                                       "with an 'image' field (curl -F image=@photo.jpg)",
                                       type.empty() ? "of no media type" : "'" + type + "'"));
    return type;
  }

  std::string photo_of(const std::string& type, const httplib::ContentReader& read) {
    auto too_large = [&] { return HttpError(413, fmt::format("the photo is over {} bytes (--max-upload-bytes)", o.max_upload_bytes)); };
    if (type == "multipart/form-data") {
      std::string photo;
      int part = 0, photo_part = 0;  // the first 'image' or 'file' part is the photo
      bool over = false;
      bool ok = read(
          [&](const httplib::MultipartFormData& header) {
            ++part;
            if (!photo_part && (header.name == "image" || header.name == "file")) photo_part = part;
            return true;
          },
          [&](const char* data, std::size_t n) {
            if (part != photo_part) return true;
            if (photo.size() + n > o.max_upload_bytes) return !(over = true);
            photo.append(data, n);
            return true;
          });
      if (over) throw too_large();
      if (!ok) throw HttpError(400, "the multipart body could not be read");
      if (!photo_part) throw HttpError(400, "multipart request without an 'image' (or 'file') field");
      return photo;
    }
    std::string body;
    bool over = false;
    read([&](const char* data, std::size_t n) {
      if (body.size() + n > o.max_upload_bytes) return !(over = true);
      body.append(data, n);
      return true;
    });
    if (over) throw too_large();
    return body;
  }

  void predict(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    std::string type = photo_type(req);
    auto s = current();
    if (!s) {
      std::lock_guard lock(served_mu);
      throw HttpError(503, "no model to predict with: " + not_ready);
    }
    std::string bytes = photo_of(type, read);
    if (bytes.empty()) throw HttpError(400, "empty body: send the photo's bytes");
    if (++in_flight > o.max_queue) {
      --in_flight;
      metrics.rejected_overload();
      throw HttpError(503, "busy: too many predictions in flight, retry shortly");
    }
    struct Leave {
      Impl* self;
      ~Leave() {
        --self->in_flight;
        self->metrics.in_flight(-1);
      }
    } leave{this};
    metrics.in_flight(1);
    auto t0 = Clock::now();
    image::DecodeLimits limits;
    limits.max_pixels = o.max_pixels;
    cv::Mat photo;
    auto p = infer(s, std::move(bytes), limits, photo);
    double infer_s = std::chrono::duration<double>(Clock::now() - t0).count();
    metrics.inference(infer_s);
    res.set_header("X-Model-Version", std::to_string(s->version));
    if (req.has_param("overlay") && req.get_param_value("overlay") != "0") {
      res.set_content(image::encode_jpeg(train::overlay(photo, p.mask), 90), "image/jpeg");
      return;
    }
    std::string png = image::encode_png(p.mask);
    if (req.get_header_value("Accept").find("application/json") != std::string::npos) {
      json bbox = p.area ? json{{"x", p.bbox.x}, {"y", p.bbox.y}, {"w", p.bbox.width}, {"h", p.bbox.height}} : json(nullptr);
      send_json(res, 200, {{"model_version", s->version}, {"width", p.mask.cols}, {"height", p.mask.rows},
                           {"bbox", bbox}, {"area", p.area}, {"mean_confidence", p.mean_confidence},
                           {"timings_ms", {{"decode_and_preprocess", p.ms_preprocess}, {"inference", p.ms_inference},
                                           {"postprocess", p.ms_postprocess}, {"total", infer_s * 1e3}}},
                           {"mask_png_base64", base64(png)}});
      return;
    }
    res.set_content(png, "image/png");
  }

  void routes() {
    http.set_payload_max_length(o.max_upload_bytes + (1 << 16));  // the front enforces it first, whatever the framing
    http.set_keep_alive_timeout(static_cast<time_t>(std::ceil(o.keep_alive_timeout)));  // as httplib advertises it
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const char* message = res.status == 404   ? "not found"
                            : res.status == 413 ? "the upload is too large"
                            : res.status == 414 ? "the request target is too long"
                            : res.status == 416 ? "the range cannot be served"
                                                : "the request is malformed";
      send_json(res, res.status, {{"error", {{"code", res.status}, {"message", message}}}});
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, 500, "internal error");
    });
    http.Get("/", guarded("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(dashboard_html(), "text/html; charset=utf-8");
    }));
    http.Get("/healthz", guarded("/healthz", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}});
    }));
    http.Get("/readyz", guarded("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      auto s = current();
      if (s) return send_json(res, 200, {{"ready", true}, {"model_version", s->version}});
      std::string why;
      {
        std::lock_guard lock(served_mu);
        why = not_ready;
      }
      send_json(res, 503, {{"ready", false}, {"reason", why}});
      res.set_header("Retry-After", "2");
    }));
    http.Get("/metrics", guarded("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    }));
    http.Get("/v1/predict", guarded("/v1/predict", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      throw HttpError(405, "POST the photo to /v1/predict");
    }));
    http.Post("/v1/predict", [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& read) {
      answer("/v1/predict", r, [&] { predict(q, r, read); });
    });
    http.Get("/v1/models", guarded("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      json j = json::array();
      for (auto& m : reg.list_models()) j.push_back(m.to_json());
      send_json(res, 200, j);
    }));
    http.Get(R"(/v1/models/(\d{1,9}))", guarded("/v1/models/{version}", [this](const httplib::Request& req, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      auto m = reg.find_model(std::stoi(req.matches[1]));
      if (!m) throw HttpError(404, "no such model version");
      auto j = m->to_json();
      j["lineage"] = reg.lineage_of_model(m->version);
      send_json(res, 200, j);
    }));
    http.Get("/v1/history", guarded("/v1/history", [this](const httplib::Request& req, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      json j = json::array();
      for (auto& e : reg.alias_history(req.has_param("alias") ? req.get_param_value("alias") : "production"))
        j.push_back(e.to_json());
      send_json(res, 200, j);
    }));
    http.Get("/v1/decisions", guarded("/v1/decisions", [this](const httplib::Request&, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      json j = json::array();
      for (auto& d : reg.list_decisions(200)) j.push_back(d.to_json());
      send_json(res, 200, j);
    }));
    http.Get("/v1/runs", guarded("/v1/runs", [this](const httplib::Request& req, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      int limit = req.has_param("limit") ? std::clamp(std::atoi(req.get_param_value("limit").c_str()), 1, 1000) : 50;
      json j = json::array();
      for (auto& r : reg.list_runs(limit, req.has_param("kind") ? req.get_param_value("kind") : "")) j.push_back(r.to_json());
      send_json(res, 200, j);
    }));
    http.Get(R"(/v1/runs/([A-Za-z0-9._-]{1,128}))", guarded("/v1/runs/{id}", [this](const httplib::Request& req, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      auto r = reg.find_run(req.matches[1]);
      if (!r) throw HttpError(404, "no such run");
      auto j = r->to_json();
      json series = json::object();
      for (auto& p : reg.metrics(r->id)) series[p.name].push_back({p.step, p.value});
      j["metrics"] = series;
      j["children"] = json::array();
      for (auto& c : reg.child_runs(r->id)) j["children"].push_back(c.to_json());
      if (r->kind == "pipeline") {
        try {
          j["pipeline"] = pipeline::load_state(ws, r->id).to_json();
        } catch (const Error&) {
        }
      }
      send_json(res, 200, j);
    }));
    http.Get("/v1/pipelines", guarded("/v1/pipelines", [this](const httplib::Request&, httplib::Response& res) {
      registry::Registry reg(registry::registry_path(ws));
      json j = json::array();
      for (auto& r : reg.list_runs(100, "pipeline")) {
        try {
          j.push_back(pipeline::load_state(ws, r.id).to_json());
        } catch (const Error&) {
        }
      }
      send_json(res, 200, j);
    }));
    http.Post(R"(/v1/models/(\d{1,9})/promote)", guarded("/v1/models/{version}/promote", [this](const httplib::Request& req, httplib::Response& res) {
      require_token(req);
      auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) throw HttpError(400, "the body must be a JSON object {\"reason\": ...}");
      std::string reason = body.value("reason", "");
      if (reason.empty()) throw HttpError(400, "give a \"reason\"");
      auto lock = ws.lock(5);
      registry::Registry reg(registry::registry_path(ws));
      int v = std::stoi(req.matches[1]);
      registry::promote(ws, reg, v, "api", reason);
      send_json(res, 200, {{"production", v}});
    }));
    http.Post("/v1/models/rollback", guarded("/v1/models/rollback", [this](const httplib::Request& req, httplib::Response& res) {
      require_token(req);
      auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) throw HttpError(400, "the body must be a JSON object");
      std::optional<int> to;
      if (body.contains("version") && body["version"].is_number_integer()) to = body["version"].get<int>();
      auto lock = ws.lock(5);
      registry::Registry reg(registry::registry_path(ws));
      int v = registry::rollback(ws, reg, to, "api", body.value("reason", std::string("rollback over HTTP")));
      send_json(res, 200, {{"production", v}});
    }));
  }
};

Server::Server(const data::Workspace& ws, ServeOptions options) : impl_(std::make_unique<Impl>(ws, std::move(options))) {
  impl_->routes();
  // Answers go out at once: with Nagle's algorithm a response written in two pieces
  // (headers, body) on a keep-alive connection waits for the client's delayed ACK,
  // ~40 ms per request (measured: p50 96 ms with keep-alive, 56 ms without).
  impl_->http.set_tcp_nodelay(true);
}

Server::~Server() { stop(); }

void Server::start() {
  auto& i = *impl_;
  if (i.o.port == 0) i.bound_port = i.http.bind_to_any_port(i.o.host);
  else i.bound_port = i.http.bind_to_port(i.o.host, i.o.port) ? i.o.port : -1;
  if (i.bound_port <= 0) throw Unavailable("cannot listen on {}:{} (in use, or not an address of this machine)", i.o.host, i.o.port);
  i.compute = std::thread([&i] { i.compute_loop(); });
  i.http.start_front();
  i.listener = std::thread([&i] { i.http.listen_after_bind(); });
  // httplib's stop() does nothing before its accept loop runs: wait for it, so that a
  // stop() right after start() cannot leave the listener behind.
  for (int k = 0; k < 5000 && !i.http.is_running(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  i.reloader = std::thread([&i] { i.reload_loop(); });
}

int Server::port() const { return impl_->bound_port; }

void Server::wait(const std::function<bool()>& should_stop) {
  while (!impl_->stopping && !(should_stop && should_stop())) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop();
}

void Server::stop() {
  auto& i = *impl_;
  if (!i.stopping.exchange(true)) i.http.stop();
  {
    std::lock_guard lock(i.jobs_mu);  // wake the compute thread to drain and stop
  }
  i.jobs_cv.notify_all();
  if (i.listener.joinable()) i.listener.join();
  i.http.stop_front();
  if (i.reloader.joinable()) i.reloader.join();
  if (i.compute.joinable()) i.compute.join();
}

}  // namespace wms::serve
