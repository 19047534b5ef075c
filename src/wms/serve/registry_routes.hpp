// The registry over HTTP (private to serve/): what `wms models`, `wms runs` and
// `wms pipeline` show, as JSON, and promote/rollback behind the API token.
//
//   GET  /v1/models  /v1/models/V (with lineage)  /v1/history[?alias=A]  /v1/decisions
//   GET  /v1/runs[?limit=N&kind=K]  /v1/runs/ID (metric series, children, pipeline state)
//   GET  /v1/pipelines
//   POST /v1/models/V/promote {"reason"}   POST /v1/models/rollback {"version"?, "reason"?}
//
// Each handler opens the registry for its request (one connection per thread).
#pragma once

#include <httplib.h>

#include <functional>

#include "wms/data/workspace.hpp"
#include "wms/serve/metrics.hpp"

namespace wms::serve {

/// `require_token` throws HttpError 404/401 unless the request carries the API token.
void add_registry_routes(httplib::Server& http, const data::Workspace& ws, Metrics& metrics,
                         std::function<void(const httplib::Request&)> require_token);

}  // namespace wms::serve
