// The real server on loopback: every route, every error code, tokens, hot reload
// under concurrent requests, overload, and the same mask as `wms predict`.
#include "wms/serve/server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "testing.hpp"
#include "wms/data/synth.hpp"
#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/serve/http_server.hpp"
#include "wms/serve/inference_queue.hpp"
#include "wms/util/fs.hpp"

namespace wms::serve {
namespace {

using nlohmann::json;
using wms::testing::TempDir;

struct Fixture {
  TempDir t;
  data::Workspace ws = data::Workspace::init(t / "ws");
  std::string photo;  // a real-looking JPEG, stored rotated with EXIF orientation 6
  int v1 = 0, v2 = 0;

  Fixture() {
    data::SynthOptions so;
    so.count = 1;
    so.long_side = 160;
    so.exif_share = 0;
    data::synthesize(t / "b", so);
    for (auto& e : std::filesystem::directory_iterator(t / "b" / "images")) {
      cv::Mat shown = image::decode_image(util::read_file(e.path()), "x").pixels;  // 120x160 or 160x120
      cv::Mat stored = shown.clone();
      image::undo_orientation(stored, 6);
      photo = image::jpeg_with_orientation(image::encode_jpeg(stored, 95), 6);
    }
    auto reg = registry::open(ws);
    nn::ModelConfig c;
    c.input_size = 64;
    v1 = registry::register_bundle(ws, reg, nn::Model(c, 1), "");
    v2 = registry::register_bundle(ws, reg, nn::Model(c, 2), "");
  }
  void promote(int v) {
    auto reg = registry::open(ws);
    registry::promote(ws, reg, v, "test", "test");
  }
};

struct Running {
  Server server;
  std::unique_ptr<httplib::Client> client;
  Running(const data::Workspace& ws, ServeOptions o) : server(ws, prepare(o)) {
    server.start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    client->set_read_timeout(30, 0);
  }
  static ServeOptions prepare(ServeOptions o) {
    o.port = 0;
    o.reload_seconds = 0.1;
    o.compute_threads = 2;
    return o;
  }
  bool wait_ready(int expect_version) {
    for (int i = 0; i < 300; ++i) {
      auto r = client->Get("/readyz");
      if (r && r->status == 200 && json::parse(r->body)["model_version"] == expect_version) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

TEST(Serve, HealthReadinessAndPredictFormats) {
  Fixture f;
  Running s(f.ws, {});
  auto h = s.client->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r0 = s.client->Get("/readyz");
  EXPECT_EQ(r0->status, 503) << "no production model yet";
  EXPECT_TRUE(r0->has_header("Retry-After"));
  for (int i = 0; i < 100 && s.client->Get("/readyz")->body.find("no production model") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the first look at the registry
  auto none = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  EXPECT_EQ(none->status, 503);
  EXPECT_NE(none->body.find("wms models promote"), std::string::npos) << none->body;
  EXPECT_EQ(s.client->Post("/v1/predict", f.photo, "text/plain")->status, 415) << "the media type comes first";
  auto get = s.client->Get("/v1/predict");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  f.promote(f.v1);
  ASSERT_TRUE(s.wait_ready(f.v1));

  auto png = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  ASSERT_EQ(png->status, 200) << png->body;
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  auto mask = image::decode_mask(png->body, "mask").pixels;
  auto shown = image::decode_image(f.photo, "photo").pixels;
  EXPECT_EQ(mask.size(), shown.size()) << "the mask is at the photo's displayed size (EXIF applied)";

  httplib::Headers accept{{"Accept", "application/json"}};
  auto j = s.client->Post("/v1/predict", accept, f.photo, "image/jpeg");
  ASSERT_EQ(j->status, 200);
  auto body = json::parse(j->body);
  EXPECT_EQ(body["model_version"], f.v1);
  EXPECT_EQ(body["width"], shown.cols);
  for (const char* k : {"bbox", "area", "mean_confidence", "timings_ms", "mask_png_base64"})
    EXPECT_TRUE(body.contains(k)) << k;

  auto ov = s.client->Post("/v1/predict?overlay=1", f.photo, "image/jpeg");
  EXPECT_EQ(ov->status, 200);
  EXPECT_EQ(ov->get_header_value("Content-Type"), "image/jpeg");

  httplib::MultipartFormDataItems form = {{"image", f.photo, "meter.jpg", "image/jpeg"}};
  EXPECT_EQ(s.client->Post("/v1/predict", form)->status, 200);
  httplib::MultipartFormDataItems legacy = {{"file", f.photo, "meter.jpg", "image/jpeg"}};
  EXPECT_EQ(s.client->Post("/v1/predict", legacy)->status, 200);
}

TEST(Serve, BadInputGetsClearErrorsNeverA500) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.max_upload_bytes = 200000;
  o.max_pixels = 1'000'000;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto code = [&](const std::string& body, const std::string& type) {
    return s.client->Post("/v1/predict", body, type)->status;
  };
  EXPECT_EQ(code("", "image/jpeg"), 400);
  EXPECT_EQ(code(f.photo.substr(0, f.photo.size() / 2), "image/jpeg"), 400) << "truncated";
  EXPECT_EQ(code("definitely not a photo", "image/png"), 400);
  EXPECT_EQ(code(f.photo, "text/plain"), 415);
  EXPECT_EQ(code(std::string(300000, 'x'), "image/jpeg"), 413);
  // A decompression bomb: a tiny PNG that claims 20000 x 20000 pixels.
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  std::string bomb = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(20000) + be32(20000) +
                     std::string("\x08\x02\x00\x00\x00", 5) + be32(0) + be32(0) + "IEND" + be32(0);
  EXPECT_EQ(code(bomb, "image/png"), 422);
  httplib::MultipartFormDataItems wrong = {{"photo", f.photo, "a.jpg", "image/jpeg"}};
  EXPECT_EQ(s.client->Post("/v1/predict", wrong)->status, 400);
  auto e = s.client->Post("/v1/predict", "", "image/jpeg");
  EXPECT_TRUE(json::parse(e->body)["error"].contains("message"));
  EXPECT_EQ(s.client->Get("/v1/nothing-here")->status, 404);
  EXPECT_EQ(s.client->Get("/v1/models/999")->status, 404);
}

TEST(Serve, RegistryRoutesMetricsAndDashboard) {
  Fixture f;
  f.promote(f.v1);
  Running s(f.ws, {});
  ASSERT_TRUE(s.wait_ready(f.v1));
  s.client->Post("/v1/predict", f.photo, "image/jpeg");
  auto models = json::parse(s.client->Get("/v1/models")->body);
  EXPECT_EQ(models.size(), 2u);
  EXPECT_EQ(json::parse(s.client->Get("/v1/models/1")->body)["version"], 1);
  EXPECT_EQ(s.client->Get("/v1/runs")->status, 200);
  EXPECT_EQ(s.client->Get("/v1/pipelines")->status, 200);
  EXPECT_EQ(json::parse(s.client->Get("/v1/history")->body).size(), 1u);
  auto m = s.client->Get("/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(m->body.find("wms_http_requests_total{route=\"/v1/predict\",code=\"200\"} 1"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("wms_inference_seconds_count 1"), std::string::npos);
  EXPECT_NE(m->body.find("wms_model_info{version=\"1\"} 1"), std::string::npos);
  EXPECT_NE(m->body.find("# TYPE wms_http_request_duration_seconds histogram"), std::string::npos);
  auto page = s.client->Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("Pipeline runs"), std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos) << "no external resources";
}

TEST(Serve, PromoteAndRollbackNeedTheToken) {
  Fixture f;
  f.promote(f.v1);
  {
    Running off(f.ws, {});
    EXPECT_EQ(off.client->Post("/v1/models/2/promote", R"({"reason":"x"})", "application/json")->status, 404)
        << "disabled without a token";
  }
  ServeOptions o;
  o.token = "s3cret";
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", R"({"reason":"x"})", "application/json")->status, 401);
  httplib::Headers wrong{{"Authorization", "Bearer nope"}}, right{{"Authorization", "Bearer s3cret"}};
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", wrong, R"({"reason":"x"})", "application/json")->status, 401);
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", right, R"({})", "application/json")->status, 400)
      << "reason required";
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", right, R"({"reason":"better"})", "application/json")->status, 200);
  EXPECT_TRUE(s.wait_ready(f.v2)) << "the server follows the alias it moved";
  EXPECT_EQ(s.client->Post("/v1/models/rollback", right, R"({"reason":"oops"})", "application/json")->status, 200);
  EXPECT_TRUE(s.wait_ready(f.v1));
  // Nothing before the first production model: a second rollback is refused (404),
  // it does not return to the version just rolled back from.
  EXPECT_EQ(s.client->Post("/v1/models/rollback", right, R"({"reason":"again"})", "application/json")->status, 404);
  EXPECT_EQ(
      s.client->Post("/v1/models/rollback", right, R"({"version":2,"reason":"explicit"})", "application/json")->status,
      200);
  EXPECT_TRUE(s.wait_ready(f.v2));
  auto h = json::parse(s.client->Get("/v1/history")->body);
  EXPECT_EQ(h.back()["action"], "rollback");
  EXPECT_EQ(h.back()["actor"], "api");
  EXPECT_EQ(h.back()["reason"], "explicit");
}

// The production alias moves while clients keep predicting: no request fails.
TEST(Serve, HotReloadUnderConcurrentRequestsLosesNothing) {
  Fixture f;
  f.promote(f.v1);
  Running s(f.ws, {});
  ASSERT_TRUE(s.wait_ready(f.v1));
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0}, saw_v2{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, port = s.server.port()] {
      httplib::Client cl("127.0.0.1", port);
      cl.set_read_timeout(30, 0);
      while (!done) {
        auto r = cl.Post("/v1/predict", f.photo, "image/jpeg");
        if (r && r->status == 200) {
          ++ok;
          saw_v2 += r->get_header_value("X-Model-Version") == std::to_string(f.v2);
        } else {
          ++failed;
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  f.promote(f.v2);
  bool ready = s.wait_ready(f.v2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  for (auto& c : clients) c.join();
  EXPECT_TRUE(ready);
  EXPECT_EQ(failed, 0);
  EXPECT_GT(ok, 8);
  EXPECT_GT(saw_v2, 0);
}

TEST(Serve, OverloadAnswers503WithRetryAfter) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.max_queue = 0;  // no room at all: every prediction is refused, deterministically
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto r = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(s.client->Get("/metrics")->body.find("wms_overload_rejections_total 1"), std::string::npos);
}

// `wms predict` and POST /v1/predict run the same function: the same mask bytes.
TEST(Serve, SameMaskAsTheCommandLine) {
  Fixture f;
  f.promote(f.v1);
  wms::testing::write_bytes(f.t / "in" / "meter.jpg", f.photo);
  auto cli = wms::testing::run_wms("predict -w '" + f.ws.root().string() + "' --model production '" +
                                   (f.t / "in").string() + "' --out '" + (f.t / "out").string() + "'");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  Running s(f.ws, {});
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto r = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  EXPECT_EQ(r->body, util::read_file(f.t / "out" / "meter.png"));
}

// ---- Slow and greedy clients (raw sockets: an HTTP client library would behave) ----

// A TCP connection to the server on loopback.
struct Raw {
  int fd = -1;
  explicit Raw(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) ADD_FAILURE() << "connect: " << errno;
  }
  ~Raw() { ::close(fd); }
  bool send_all(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // What the server sent within `ms` (until it closes, or the time is up).
  std::string read_for(int ms) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    char buf[4096];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  bool readable() {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
};

// n connections that have each sent `first`.
std::vector<std::unique_ptr<Raw>> connect_all(int port, int n, std::string_view first) {
  std::vector<std::unique_ptr<Raw>> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(std::make_unique<Raw>(port));
    EXPECT_TRUE(out.back()->send_all(first));
  }
  return out;
}

long rss_kib() {
  std::string s = util::read_file("/proc/self/status", 1 << 16);
  auto p = s.find("VmRSS:");
  return std::atol(s.c_str() + p + 6);
}

// 16 clients that send a request line and then a header byte every 300 ms (twice the
// worker count) must not stop health checks or predictions; each gets 408 at its
// head deadline. A liveness test: the timeouts are generous, nothing is timed.
TEST(Serve, SlowClientsDoNotHoldTheWorkers) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.http_threads = 8;
  o.header_timeout = 4;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto slow = connect_all(s.server.port(), 16, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n");
  std::atomic<bool> done{false};
  std::thread drip([&] {
    for (int k = 0; !done && k < 100; ++k) {
      for (auto& c : slow) c->send_all("X");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto h = s.client->Get("/healthz");
  ASSERT_TRUE(h) << "/healthz did not answer while slow clients held connections";
  EXPECT_EQ(h->status, 200);
  auto r = s.client->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto p = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  ASSERT_TRUE(p) << "a prediction did not answer while slow clients held connections";
  EXPECT_EQ(p->status, 200);
  // Each slow client is answered 408 and closed at its head deadline.
  for (auto& c : slow) EXPECT_NE(c->read_for(15000).find("HTTP/1.1 408"), std::string::npos);
  done = true;
  drip.join();
  EXPECT_NE(s.client->Get("/metrics")->body.find(R"x(route="(front)",code="408"} 16)x"), std::string::npos);
}

// A 200 MiB upload sent chunked is refused with 413 while it arrives; the server's
// memory grows by far less than the upload (it never holds more than the limit).
TEST(Serve, ChunkedUploadOverTheLimitIsRefusedWhileReading) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.max_upload_bytes = 1 << 20;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  long before = rss_kib();
  Raw c(s.server.port());
  ASSERT_TRUE(
      c.send_all("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"));
  std::string chunk = fmt::format("{:x}\r\n{}\r\n", 64 << 10, std::string(64 << 10, 'x'));
  std::string answer;
  for (std::size_t sent = 0; sent < (200u << 20) && answer.empty(); sent += 64 << 10) {
    if (!c.send_all(chunk)) break;  // the server closed after answering
    if (c.readable()) answer = c.read_for(500);
  }
  if (answer.empty()) answer = c.read_for(5000);
  EXPECT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << answer;
  long grown_mib = (rss_kib() - before) / 1024;
  EXPECT_LT(grown_mib, 32) << "server memory grew by " << grown_mib << " MiB";
  // A declared length over the limit is refused before any body byte, with or without
  // Expect: 100-continue (curl sends it for large uploads).
  Raw d(s.server.port());
  d.send_all(
      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 999999999\r\n"
      "Expect: 100-continue\r\n\r\n");
  std::string refused = d.read_for(3000);
  EXPECT_EQ(refused.find("100 Continue"), std::string::npos) << refused;
  EXPECT_NE(refused.find("HTTP/1.1 413"), std::string::npos) << refused;
  // Within the limit, Expect: 100-continue gets its 100 and then the answer.
  Raw e(s.server.port());
  e.send_all(fmt::format(
      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nConnection: close\r\nContent-Length: {}\r\n"
      "Expect: 100-continue\r\n\r\n",
      f.photo.size()));
  EXPECT_NE(e.read_for(1000).find("HTTP/1.1 100 Continue"), std::string::npos);
  e.send_all(f.photo);
  EXPECT_NE(e.read_for(10000).find("HTTP/1.1 200"), std::string::npos);
  // A chunked photo within the limit is served.
  auto ok = s.client->Post(
      "/v1/predict", f.photo.size(),
      [&](size_t off, size_t len, httplib::DataSink& sink) {
        sink.write(f.photo.data() + off, std::min<size_t>(len, 1000));
        return true;
      },
      "image/jpeg");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto chunked = s.client->Post(
      "/v1/predict",
      [&](size_t off, httplib::DataSink& sink) {
        if (off < f.photo.size())
          sink.write(f.photo.data() + off, std::min<size_t>(f.photo.size() - off, 1000));
        else
          sink.done();
        return true;
      },
      "image/jpeg");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 200) << chunked->body;
}

// `curl --data-binary @photo.jpg` sends application/x-www-form-urlencoded: 415 with the
// hint whatever the size (an HTTP library limit answered 413 past 8 KiB). Media types
// compare case-insensitively, with parameters (RFC 9110 section 8.3.1).
TEST(Serve, MediaTypesFollowRfc9110) {
  Fixture f;
  f.promote(f.v1);
  Running s(f.ws, {});
  ASSERT_TRUE(s.wait_ready(f.v1));
  std::string big = f.photo;
  while (big.size() < (64 << 10)) big += f.photo;
  for (const std::string& body : {f.photo.substr(0, 1000), big}) {
    auto r = s.client->Post("/v1/predict", body, "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415) << body.size() << " bytes: " << r->body;
    EXPECT_NE(r->body.find("--data-binary"), std::string::npos) << r->body;
  }
  for (const char* type :
       {"image/jpeg", "IMAGE/JPEG", "image/jpeg ; q=1", "Image/Jpeg;charset=binary", " image/jpeg\t"}) {
    auto r = s.client->Post("/v1/predict", f.photo, type);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "'" << type << "': " << r->body;
  }
  for (const char* type : {"image", "image/", "/jpeg", "text/plain", "image/jpeg, image/png"}) {
    auto r = s.client->Post("/v1/predict", f.photo, type);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415) << "'" << type << "'";
  }
}

// Framing the front refuses rather than guess (RFC 9112): a proxy that read it another
// way could smuggle a request; httplib would read a bare-LF chunk short.
TEST(Serve, AmbiguousFramingIsRefused) {
  Fixture f;
  f.promote(f.v1);
  Running s(f.ws, {});
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto answer = [&](const std::string& request) {
    Raw c(s.server.port());
    c.send_all(request);
    return c.read_for(2000);
  };
  const std::string post = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n";
  EXPECT_NE(answer(post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n5\r\nworld\r\n0\r\n\r\n").find("HTTP/1.1 400"),
            std::string::npos);
  EXPECT_NE(answer(post + "Content-Length : 5\r\n\r\nhello").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer(post + "X-A: 1\r\n Content-Length: 5\r\n\r\nhello").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n").find("HTTP/1.1 400"),
            std::string::npos);
  EXPECT_NE(answer(post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").find("HTTP/1.1 501"), std::string::npos);
  EXPECT_NE(answer(post + "Content-Length: 12x\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer(post + "Content-Length: 100000000000000000000000\r\n\r\n").find("HTTP/1.1 413"), std::string::npos);
  // Request lines and header lines that are not HTTP/1.1 (RFC 9112 section 3, 5).
  EXPECT_NE(answer("garbage\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer("GET /healthz\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer("GET /healthz HTTP/9.9\r\n\r\n").find("HTTP/1.1 505"), std::string::npos);
  EXPECT_NE(answer("get /healthz HTTP/1.1\r\n\r\n").find("HTTP/1.1 501"), std::string::npos);
  EXPECT_NE(answer("GET /healthz HTTP/1.1\r\nBad Header: y\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(answer(std::string("GET /healthz HTTP/1.1\r\nX: a\0b\r\n\r\n", 33)).find("HTTP/1.1 400"),
            std::string::npos);
  std::string refused = answer("GET /healthz HTTP/9.9\r\n\r\n");
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;
  // A chunked photo with extensions and a trailer, split in odd places, is served.
  std::string body = fmt::format("{:x};name=v\r\n", f.photo.size()) + f.photo + "\r\n0\r\nX-Trailer: 1\r\n\r\n";
  Raw c(s.server.port());
  std::string req = post + "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
  for (std::size_t i = 0; i < req.size(); i += 777) {
    c.send_all(req.substr(i, 777));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(c.read_for(10000).find("HTTP/1.1 200"), std::string::npos);
}

// Bodies held at once are bounded: past --max-upload-memory a new upload gets 503 and
// Retry-After, the ones in progress finish.
TEST(Serve, UploadMemoryIsBounded) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.max_upload_memory = f.photo.size() + f.photo.size() / 2;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  const std::string head = fmt::format(
      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
      "Connection: close\r\nContent-Length: {}\r\n\r\n",
      f.photo.size());
  Raw first(s.server.port());
  first.send_all(head + f.photo.substr(0, 100));  // holds its reservation
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Raw second(s.server.port());
  second.send_all(head);
  std::string refused = second.read_for(2000);
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  first.send_all(f.photo.substr(100));
  EXPECT_NE(first.read_for(10000).find("HTTP/1.1 200"), std::string::npos);
  // Released once answered: the next upload is served.
  auto again = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

// Idle kept-alive connections wait in the front, not in a worker, and are closed
// after the keep-alive timeout.
TEST(Serve, IdleKeepAliveConnectionsHoldNoWorker) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.http_threads = 2;
  o.keep_alive_timeout = 2;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto idle = connect_all(s.server.port(), 8, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  for (auto& c : idle) EXPECT_NE(c->read_for(300).find("HTTP/1.1 200"), std::string::npos);
  auto h = s.client->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  // Two requests pipelined on one connection are answered in order.
  Raw pipe(s.server.port());
  pipe.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string both = pipe.read_for(1000);
  auto first = both.find("HTTP/1.1 200"), second = both.find("HTTP/1.1 404");
  EXPECT_TRUE(first != std::string::npos && second != std::string::npos && first < second) << both;
  // The idle ones are closed by the server (EOF), without an answer.
  for (auto& c : idle) EXPECT_EQ(c->read_for(6000), "");
}

// ---- Overload: late and abandoned predictions ----

// A prediction whose batch has not started within --queue-timeout of its arrival is
// answered 503 + Retry-After instead of computed (1 ns: never in time, deterministically),
// and counted; the other routes answer as before.
TEST(Serve, PredictionsPastTheQueueTimeoutAnswer503) {
  Fixture f;
  f.promote(f.v1);
  ServeOptions o;
  o.queue_timeout = 1e-9;
  Running s(f.ws, o);
  ASSERT_TRUE(s.wait_ready(f.v1));
  auto r = s.client->Post("/v1/predict", f.photo, "image/jpeg");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(r->body.find("queue timeout"), std::string::npos) << r->body;
  EXPECT_NE(s.client->Get("/metrics")->body.find("wms_overload_rejections_total 1"), std::string::npos);
  EXPECT_EQ(s.client->Get("/healthz")->status, 200);
}

// The compute queue drops, at their turn, what has waited past its time and what has
// no client left, and answers the rest.
TEST(Serve, TheQueueDropsLateAndAbandonedPredictions) {
  nn::ModelConfig c;
  c.input_size = 64;
  train::PredictOptions po;
  po.threads = 2;
  auto model = std::make_shared<train::Predictor>(nn::Model(c, 1), po);
  Fixture f;
  InferenceQueue queue(2);
  queue.start();
  auto now = std::chrono::steady_clock::now();
  cv::Mat photo;
  QueueAdmission late;
  late.start_by = now - std::chrono::seconds(1);
  EXPECT_THROW(queue.infer(model, f.photo, {}, photo, late), Unavailable);
  QueueAdmission gone;
  gone.client_gone = [] { return true; };
  EXPECT_THROW(queue.infer(model, f.photo, {}, photo, gone), ClientGone);
  QueueAdmission fine;
  fine.start_by = now + std::chrono::seconds(60);
  fine.client_gone = [] { return false; };
  auto p = queue.infer(model, f.photo, {}, photo, fine);
  EXPECT_EQ(p.mask.size(), photo.size());
  EXPECT_FALSE(photo.empty()) << "the decoded photo is handed back";
  queue.stop();
}

// A handler can tell that its client has closed the connection (what the queue asks
// before computing a prediction), and when its request arrived.
TEST(Serve, HandlersSeeWhetherTheirClientIsStillThere) {
  HttpServer http(HttpLimits{});
  std::atomic<int> seen_gone{-1}, seen_present{-1};
  std::atomic<bool> received_before_handler{false};
  http.Get("/wait", [&](const httplib::Request&, httplib::Response& res) {
    const RequestContext* c = HttpServer::current_request();
    received_before_handler = c && c->received <= std::chrono::steady_clock::now();
    bool gone = false;
    for (int i = 0; i < 200 && !(gone = c->client_gone()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    seen_gone = gone;
    res.set_content("late", "text/plain");
  });
  http.Get("/now", [&](const httplib::Request&, httplib::Response& res) {
    seen_present = HttpServer::current_request()->client_gone();
    res.set_content("ok", "text/plain");
  });
  int port = http.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  http.start_front();
  std::thread listener([&] { http.listen_after_bind(); });
  for (int k = 0; k < 5000 && !http.is_running(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  {
    Raw present(port);
    present.send_all("GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(present.read_for(5000).find("HTTP/1.1 200"), std::string::npos);
  }
  {
    Raw leaving(port);
    leaving.send_all("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }  // closed
  for (int i = 0; i < 400 && seen_gone == -1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(seen_present, 0);
  EXPECT_EQ(seen_gone, 1) << "the handler did not see its client leave";
  EXPECT_TRUE(received_before_handler);
  EXPECT_EQ(HttpServer::current_request(), nullptr) << "outside a handler there is no request";
  http.stop();
  listener.join();
  http.stop_front();
}

}  // namespace
}  // namespace wms::serve
