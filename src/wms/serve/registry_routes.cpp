#include "wms/serve/registry_routes.hpp"

#include <algorithm>
#include <cstdlib>

#include "wms/pipeline/pipeline.hpp"
#include "wms/registry/project_lock.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/serve/http_answer.hpp"

namespace wms::serve {
namespace {

using nlohmann::json;

std::string param_or(const httplib::Request& req, const char* name, const char* fallback) {
  return req.has_param(name) ? req.get_param_value(name) : fallback;
}

json run_details(const data::Workspace& ws, registry::Registry& reg, const registry::Run& r) {
  auto j = r.to_json();
  json series = json::object();
  for (auto& p : reg.metrics(r.id)) series[p.name].push_back({p.step, p.value});
  j["metrics"] = series;
  j["children"] = json::array();
  for (auto& c : reg.child_runs(r.id)) j["children"].push_back(c.to_json());
  if (r.kind == "pipeline") {
    try {
      j["pipeline"] = pipeline::load_state(ws, r.id).to_json();
    } catch (const Error&) {  // a run killed before its first state write has none
    }
  }
  return j;
}

json body_object(const httplib::Request& req, const char* shape) {
  auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw HttpError(400, std::string("the body must be a JSON object") + shape);
  return body;
}

}  // namespace

void add_registry_routes(httplib::Server& http, const data::Workspace& ws, Metrics& metrics,
                         std::function<void(const httplib::Request&)> require_token) {
  auto get = [&](const char* pattern, const char* route, Handler f) {
    http.Get(pattern, guarded(metrics, route, std::move(f)));
  };
  get("/v1/models", "/v1/models", [&ws](const httplib::Request&, httplib::Response& res) {
    auto reg = registry::open(ws);
    json j = json::array();
    for (auto& m : reg.list_models()) j.push_back(m.to_json());
    send_json(res, 200, j);
  });
  get(R"(/v1/models/(\d{1,9}))", "/v1/models/{version}", [&ws](const httplib::Request& req, httplib::Response& res) {
    auto reg = registry::open(ws);
    auto m = reg.find_model(std::stoi(req.matches[1]));
    if (!m) throw HttpError(404, "no such model version");
    auto j = m->to_json();
    j["lineage"] = reg.lineage_of_model(m->version);
    send_json(res, 200, j);
  });
  get("/v1/history", "/v1/history", [&ws](const httplib::Request& req, httplib::Response& res) {
    auto reg = registry::open(ws);
    json j = json::array();
    for (auto& e : reg.alias_history(param_or(req, "alias", "production"))) j.push_back(e.to_json());
    send_json(res, 200, j);
  });
  get("/v1/decisions", "/v1/decisions", [&ws](const httplib::Request&, httplib::Response& res) {
    auto reg = registry::open(ws);
    json j = json::array();
    for (auto& d : reg.list_decisions(200)) j.push_back(d.to_json());
    send_json(res, 200, j);
  });
  get("/v1/runs", "/v1/runs", [&ws](const httplib::Request& req, httplib::Response& res) {
    auto reg = registry::open(ws);
    int limit = std::clamp(std::atoi(param_or(req, "limit", "50").c_str()), 1, 1000);
    json j = json::array();
    for (auto& r : reg.list_runs(limit, param_or(req, "kind", ""))) j.push_back(r.to_json());
    send_json(res, 200, j);
  });
  get(R"(/v1/runs/([A-Za-z0-9._-]{1,128}))", "/v1/runs/{id}",
      [&ws](const httplib::Request& req, httplib::Response& res) {
        auto reg = registry::open(ws);
        auto r = reg.find_run(req.matches[1]);
        if (!r) throw HttpError(404, "no such run");
        send_json(res, 200, run_details(ws, reg, *r));
      });
  get("/v1/pipelines", "/v1/pipelines", [&ws](const httplib::Request&, httplib::Response& res) {
    auto reg = registry::open(ws);
    json j = json::array();
    for (auto& r : reg.list_runs(100, "pipeline")) {
      try {
        j.push_back(pipeline::load_state(ws, r.id).to_json());
      } catch (const Error&) {  // no state written yet
      }
    }
    send_json(res, 200, j);
  });
  http.Post(R"(/v1/models/(\d{1,9})/promote)",
            guarded(metrics, "/v1/models/{version}/promote",
                    [&ws, require_token](const httplib::Request& req, httplib::Response& res) {
                      require_token(req);
                      std::string reason = body_object(req, " {\"reason\": ...}").value("reason", "");
                      if (reason.empty()) throw HttpError(400, "give a \"reason\"");
                      registry::ProjectLock lock(ws, 5, "promotion");
                      auto reg = registry::open(ws);
                      int v = std::stoi(req.matches[1]);
                      registry::promote(ws, reg, v, "api", reason);
                      send_json(res, 200, {{"production", v}});
                    }));
  http.Post("/v1/models/rollback", guarded(metrics, "/v1/models/rollback",
                                           [&ws, require_token](const httplib::Request& req, httplib::Response& res) {
                                             require_token(req);
                                             json body = body_object(req, "");
                                             std::optional<int> to;
                                             if (body.contains("version") && body["version"].is_number_integer())
                                               to = body["version"].get<int>();
                                             registry::ProjectLock lock(ws, 5, "rollback");
                                             auto reg = registry::open(ws);
                                             int v = registry::rollback(
                                                 ws, reg, to, "api",
                                                 body.value("reason", std::string("rollback over HTTP")));
                                             send_json(res, 200, {{"production", v}});
                                           }));
}

}  // namespace wms::serve
