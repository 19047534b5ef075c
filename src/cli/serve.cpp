#include <cstdlib>

#include "cli/command.hpp"
#include "wms/serve/server.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {

namespace {

struct ServeArgs {
  serve::ServeOptions o;
};

}  // namespace

void add_serve(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("serve",
                                  "HTTP API (predict, registry JSON, Prometheus /metrics) and the dashboard; "
                                  "follows the production alias. Ctrl-C stops.");
  auto a = std::make_shared<ServeArgs>();
  app->add_option("--host", a->o.host, "address to listen on (default loopback only)")->capture_default_str();
  app->add_option("--port,-p", a->o.port, "port (0: any free port)")->capture_default_str();
  app->add_option("--http-threads", a->o.http_threads,
                  "requests handled at once; connections still arriving wait apart and hold none")
      ->capture_default_str();
  app->add_option("--max-upload-memory", a->o.max_upload_memory,
                  "bytes of request bodies held at once (chunked ones count --max-upload-bytes); past it 503")
      ->capture_default_str();
  app->add_option("--header-timeout", a->o.header_timeout, "seconds for a whole request head, else 408")
      ->capture_default_str();
  app->add_option("--body-timeout", a->o.body_timeout, "seconds for a whole request body, else 408")
      ->capture_default_str();
  app->add_option("--keep-alive-timeout", a->o.keep_alive_timeout, "idle seconds before a kept-alive connection closes")
      ->capture_default_str();
  app->add_option("--max-upload-bytes", a->o.max_upload_bytes,
                  "larger uploads get 413, counted as they arrive (Content-Length or chunked)")
      ->capture_default_str();
  app->add_option("--max-pixels", a->o.max_pixels, "larger photos get 422, refused before decoding")
      ->capture_default_str();
  app->add_option("--max-queue", a->o.max_queue, "predictions in flight before 503 + Retry-After")
      ->capture_default_str();
  app->add_option("--queue-timeout", a->o.queue_timeout,
                  "seconds a prediction may wait, from its arrival, for its batch to start; past it 503 + "
                  "Retry-After instead of an answer the client may no longer wait for (an answer comes at most one "
                  "batch later: keep the two under your clients' timeout)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app->add_option("--reload-seconds", a->o.reload_seconds, "how often to check the production alias")
      ->capture_default_str();
  add_device_option(*app, a->o.device);
  add_names_option(*app, "--precision", a->o.precision, train::kPrecisionNames,
                   "of the forward pass: auto | fp32 | bf16");
  add_common_options(*app, g, false, true);
  app->footer(
      "Promote/rollback over HTTP need the environment variable WMS_API_TOKEN (the bearer token); "
      "without it those routes are disabled.");
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   a->o.compute_threads = g.threads;
                   if (const char* t = std::getenv("WMS_API_TOKEN")) a->o.token = t;
                   serve::Server server(ws, a->o);
                   server.start();
                   std::fprintf(
                       stderr,
                       "wms serve: listening on http://%s:%d (dashboard at /, API under /v1, metrics at /metrics)%s\n",
                       a->o.host.c_str(), server.port(),
                       a->o.token.empty() ? "; promote/rollback routes disabled (no WMS_API_TOKEN)" : "");
                   server.wait([] { return util::interrupted(); });
                   std::fprintf(stderr, "wms serve: stopped\n");
                   return kExitOk;
                 }});
}

}  // namespace wms::cli
