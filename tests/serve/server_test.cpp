// The real server on loopback: every route, every error code, tokens, hot reload
// under concurrent requests, overload, and the same mask as `wms predict`.
#include "wms/serve/server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "testing.hpp"
#include "wms/data/synth.hpp"
#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/fs.hpp"

namespace wms::serve {
namespace {

using wms::testing::TempDir;
using nlohmann::json;

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
    registry::Registry reg(registry::registry_path(ws));
    nn::ModelConfig c;
    c.input_size = 64;
    v1 = registry::register_bundle(ws, reg, nn::Model(c, 1), "");
    v2 = registry::register_bundle(ws, reg, nn::Model(c, 2), "");
  }
  void promote(int v) {
    registry::Registry reg(registry::registry_path(ws));
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
  EXPECT_EQ(s.client->Post("/v1/predict", f.photo, "image/jpeg")->status, 503);
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
  for (const char* k : {"bbox", "area", "mean_confidence", "timings_ms", "mask_png_base64"}) EXPECT_TRUE(body.contains(k)) << k;

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
  auto code = [&](const std::string& body, const std::string& type) { return s.client->Post("/v1/predict", body, type)->status; };
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
  EXPECT_NE(m->body.find("wms_http_requests_total{route=\"/v1/predict\",code=\"200\"} 1"), std::string::npos) << m->body;
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
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", right, R"({})", "application/json")->status, 400) << "reason required";
  EXPECT_EQ(s.client->Post("/v1/models/2/promote", right, R"({"reason":"better"})", "application/json")->status, 200);
  EXPECT_TRUE(s.wait_ready(f.v2)) << "the server follows the alias it moved";
  EXPECT_EQ(s.client->Post("/v1/models/rollback", right, R"({"reason":"oops"})", "application/json")->status, 200);
  EXPECT_TRUE(s.wait_ready(f.v1));
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

}  // namespace
}  // namespace wms::serve
