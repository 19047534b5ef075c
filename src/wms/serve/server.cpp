#include "wms/serve/server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "wms/image/decode.hpp"
#include "wms/serve/http_answer.hpp"
#include "wms/serve/http_server.hpp"
#include "wms/serve/inference_queue.hpp"
#include "wms/serve/metrics.hpp"
#include "wms/serve/model_follower.hpp"
#include "wms/serve/registry_routes.hpp"
#include "wms/train/predictor.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/hash.hpp"

namespace wms::serve {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

HttpLimits http_limits(const ServeOptions& o) {
  HttpLimits l;
  l.workers = std::max(1, o.http_threads);
  l.max_body_bytes = o.max_upload_bytes + (64 << 10);  // multipart framing around the photo
  l.header_timeout = o.header_timeout;
  l.body_timeout = o.body_timeout;
  l.keep_alive_timeout = o.keep_alive_timeout;
  l.max_buffered_bytes = o.max_upload_memory;
  return l;
}

train::PredictOptions predict_options(const ServeOptions& o) {
  train::PredictOptions po;
  po.device = o.device;
  po.threads = o.compute_threads;
  po.precision = o.precision;
  return po;
}

}  // namespace

struct Server::Impl {
  const data::Workspace& ws;
  ServeOptions o;
  Metrics metrics;
  HttpServer http;
  InferenceQueue queue;
  ModelFollower follower;
  std::thread listener;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
  int bound_port = 0;

  Impl(const data::Workspace& w, ServeOptions opts)
      : ws(w),
        o(std::move(opts)),
        http(http_limits(o), [this](int status) { metrics.request("(front)", status, 0); }),
        queue(o.compute_threads),
        follower(ws, predict_options(o), o.reload_seconds, queue, [this](const FollowStatus& f) {
          metrics.model_status(f.served, f.production, f.failures, f.loaded_at);
        }) {}

  void require_token(const httplib::Request& req) const {
    if (o.token.empty()) throw HttpError(404, "this route is disabled: start the server with WMS_API_TOKEN set");
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 || !same_secret(auth.substr(7), o.token))
      throw HttpError(401, "a valid 'Authorization: Bearer <token>' header is required");
  }

  // The media type of a predict request, checked before anything else (415 whatever
  // the size, with or without a model).
  std::string photo_type(const httplib::Request& req) {
    std::string type = media_type(req.get_header_value("Content-Type"));
    if (type != "multipart/form-data" && type != "image/jpeg" && type != "image/png" &&
        type != "application/octet-stream")
      throw HttpError(415,
                      fmt::format("the body is {}; send the photo as image/jpeg or image/png (raw body, e.g. curl "
                                  "--data-binary @photo.jpg -H 'Content-Type: image/jpeg'), or multipart/form-data "
                                  "with an 'image' field (curl -F image=@photo.jpg)",
                                  type.empty() ? "of no media type" : "'" + type + "'"));
    return type;
  }

  std::string photo_of(const std::string& type, const httplib::ContentReader& read) {
    auto too_large = [&] {
      return HttpError(413, fmt::format("the photo is over {} bytes (--max-upload-bytes)", o.max_upload_bytes));
    };
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
    auto s = follower.current();
    if (!s) throw HttpError(503, "no model to predict with: " + follower.not_ready());
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
    InferenceQueue::Admission admission;
    if (const RequestContext* c = HttpServer::current_request()) {
      admission.start_by =
          c->received + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.queue_timeout));
      admission.client_gone = [c] { return c->client_gone(); };
    }
    train::Prediction p;
    try {
      p = queue.infer(s->predictor, std::move(bytes), limits, photo, admission);
    } catch (const ClientGone&) {
      metrics.abandoned();
      res.status = 499;  // nobody reads it: the connection is closed after this
      return;
    } catch (const Unavailable&) {
      metrics.rejected_overload();
      throw;
    }
    double infer_s = std::chrono::duration<double>(Clock::now() - t0).count();
    metrics.inference(infer_s);
    res.set_header("X-Model-Version", std::to_string(s->version));
    if (req.has_param("overlay") && req.get_param_value("overlay") != "0") {
      res.set_content(image::encode_jpeg(train::overlay(photo, p.mask), 90), "image/jpeg");
      return;
    }
    std::string png = image::encode_png(p.mask);
    if (req.get_header_value("Accept").find("application/json") != std::string::npos) {
      json bbox =
          p.area ? json{{"x", p.bbox.x}, {"y", p.bbox.y}, {"w", p.bbox.width}, {"h", p.bbox.height}} : json(nullptr);
      send_json(res, 200,
                {{"model_version", s->version},
                 {"width", p.mask.cols},
                 {"height", p.mask.rows},
                 {"bbox", bbox},
                 {"area", p.area},
                 {"mean_confidence", p.mean_confidence},
                 {"views", p.views},
                 {"timings_ms",
                  {{"decode_and_preprocess", p.ms_preprocess},
                   {"inference", p.ms_inference},
                   {"postprocess", p.ms_postprocess},
                   {"total", infer_s * 1e3}}},
                 {"mask_png_base64", util::base64(png)}});
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
    http.Get("/", guarded(metrics, "/", [](const httplib::Request&, httplib::Response& res) {
               res.set_content(dashboard_html(), "text/html; charset=utf-8");
             }));
    http.Get("/healthz", guarded(metrics, "/healthz", [](const httplib::Request&, httplib::Response& res) {
               send_json(res, 200, {{"status", "ok"}});
             }));
    http.Get("/readyz", guarded(metrics, "/readyz", [this](const httplib::Request&, httplib::Response& res) {
               FollowStatus f = follower.status();
               nlohmann::json follow = {{"production_version", f.production ? nlohmann::json(f.production) : nullptr},
                                        {"behind", f.behind()},
                                        {"error", f.error.empty() ? nullptr : nlohmann::json(f.error)}};
               if (auto s = follower.current()) {
                 follow["ready"] = true;
                 follow["model_version"] = s->version;
                 // Still ready when behind: the old version answers while the new one
                 // cannot be fetched; "behind" and "error" say so.
                 return send_json(res, 200, follow);
               }
               follow["ready"] = false;
               follow["reason"] = follower.not_ready();
               send_json(res, 503, follow);
               res.set_header("Retry-After", "2");
             }));
    http.Get("/metrics", guarded(metrics, "/metrics", [this](const httplib::Request&, httplib::Response& res) {
               res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
             }));
    http.Get("/v1/predict", guarded(metrics, "/v1/predict", [](const httplib::Request&, httplib::Response& res) {
               res.set_header("Allow", "POST");
               throw HttpError(405, "POST the photo to /v1/predict");
             }));
    http.Post("/v1/predict",
              [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& read) {
                answer(metrics, "/v1/predict", r, [&] { predict(q, r, read); });
              });
    add_registry_routes(http, ws, metrics, [this](const httplib::Request& req) { require_token(req); });
  }
};

Server::Server(const data::Workspace& ws, ServeOptions options)
    : impl_(std::make_unique<Impl>(ws, std::move(options))) {
  impl_->routes();
  // Answers go out at once: with Nagle's algorithm a response written in two pieces
  // (headers, body) on a keep-alive connection waits for the client's delayed ACK,
  // ~40 ms per request (measured: p50 96 ms with keep-alive, 56 ms without).
  impl_->http.set_tcp_nodelay(true);
}

Server::~Server() {
  stop();
}

void Server::start() {
  auto& i = *impl_;
  if (i.o.port == 0)
    i.bound_port = i.http.bind_to_any_port(i.o.host);
  else
    i.bound_port = i.http.bind_to_port(i.o.host, i.o.port) ? i.o.port : -1;
  if (i.bound_port <= 0)
    throw Unavailable("cannot listen on {}:{} (in use, or not an address of this machine)", i.o.host, i.o.port);
  i.queue.start();
  i.http.start_front();
  i.listener = std::thread([&i] { i.http.listen_after_bind(); });
  // httplib's stop() does nothing before its accept loop runs: wait for it, so that a
  // stop() right after start() cannot leave the listener behind.
  for (int k = 0; k < 5000 && !i.http.is_running(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  i.follower.start();
}

int Server::port() const {
  return impl_->bound_port;
}

void Server::wait(const std::function<bool()>& should_stop) {
  while (!impl_->stopping && !(should_stop && should_stop()))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop();
}

void Server::stop() {
  auto& i = *impl_;
  if (!i.stopping.exchange(true)) i.http.stop();
  if (i.listener.joinable()) i.listener.join();
  i.http.stop_front();
  i.follower.stop();  // before the queue: a warm-up in progress still gets its answer
  i.queue.stop();
}

}  // namespace wms::serve
