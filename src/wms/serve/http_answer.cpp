#include "wms/serve/http_answer.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "wms/image/decode.hpp"

namespace wms::serve {

int status_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidInput: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kDenied: return 502;  // an upstream (S3, PostgreSQL) refused wms, not the client
    default: return 500;
  }
}

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", {{"code", status}, {"message", message}}}});
  if (status == 503) res.set_header("Retry-After", "1");
}

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

bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() != b.size();
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

void answer(Metrics& metrics, const std::string& route, httplib::Response& res, const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
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
  metrics.request(route, res.status, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

httplib::Server::Handler guarded(Metrics& metrics, const std::string& route, Handler f) {
  return [&metrics, route, f = std::move(f)](const httplib::Request& req, httplib::Response& res) {
    answer(metrics, route, res, [&] { f(req, res); });
  };
}

}  // namespace wms::serve
