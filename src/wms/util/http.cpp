#include "wms/util/http.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

namespace wms::util {
namespace {

constexpr std::size_t kMaxBody = 4u << 20;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  std::size_t bytes = size * n;
  body->append(data, std::min(bytes, kMaxBody - std::min(kMaxBody, body->size())));
  return bytes;
}

}  // namespace

std::string HttpResponse::what() const {
  return error.empty() ? fmt::format("HTTP {}", status) : error;
}

HttpResponse http_request(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                          const std::string& body, double timeout_seconds) {
  HttpResponse r;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.error = "curl init failed";
    return r;
  }
  struct curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_seconds * 1000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  return r;
}

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return "(url)";
  auto end = url.find_first_of("/?#", scheme + 3);
  std::string host = url.substr(scheme + 3, end == std::string::npos ? std::string::npos : end - scheme - 3);
  auto at = host.rfind('@');  // user:password@host
  if (at != std::string::npos) host = host.substr(at + 1);
  return url.substr(0, scheme + 3) + host;
}

}  // namespace wms::util
