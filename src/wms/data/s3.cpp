#include "wms/data/s3.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

const char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string home_file(const std::string& override_path, const char* env_name, const char* rel) {
  if (!override_path.empty()) return override_path;
  if (auto e = env(env_name); !e.empty()) return e;
  return env("HOME") + "/" + rel;
}

// An AWS shared config or credentials file: section -> key -> value. Indented lines
// (nested settings such as "s3 =\n  addressing_style = path") are skipped.
using Ini = std::map<std::string, std::map<std::string, std::string>>;

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Ini read_ini(const std::string& path) {
  Ini ini;
  std::ifstream in(path);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto eq = line.find('=');
    if (eq != std::string::npos) ini[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return ini;
}

std::string profile_name(const std::string& profile) {
  if (!profile.empty()) return profile;
  if (auto p = env("AWS_PROFILE"); !p.empty()) return p;
  return "default";
}

const std::map<std::string, std::string>* config_section(const Ini& ini, const std::string& profile) {
  auto it = ini.find(profile == "default" ? "default" : "profile " + profile);
  return it == ini.end() ? nullptr : &it->second;
}

std::string value_of(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

// The text between <tag> and </tag>, with XML's five entities decoded.
std::string xml_field(std::string_view xml, std::string_view tag, std::size_t from = 0, std::size_t* end = nullptr) {
  std::string open = fmt::format("<{}>", tag), close = fmt::format("</{}>", tag);
  auto b = xml.find(open, from);
  if (b == std::string_view::npos) return "";
  b += open.size();
  auto e = xml.find(close, b);
  if (e == std::string_view::npos) return "";
  if (end) *end = e + close.size();
  std::string out;
  for (std::size_t i = b; i < e; ++i) {
    if (xml[i] != '&') {
      out += xml[i];
      continue;
    }
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (auto [name, c] : kEntities)
      if (xml.substr(i, name.size()) == name) out += c, i += name.size() - 1, done = true;
    if (!done) out += '&';
  }
  return out;
}

std::string hex_to_bytes(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Upload {
  std::string_view body;
  std::size_t at = 0;
};

std::size_t feed(char* buf, std::size_t size, std::size_t n, void* in) {
  auto* u = static_cast<Upload*>(in);
  std::size_t k = std::min(size * n, u->body.size() - u->at);
  std::memcpy(buf, u->body.data() + u->at, k);
  u->at += k;
  return k;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string s3_uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

S3Url parse_s3_url(const std::string& url) {
  if (url.rfind("s3://", 0) != 0) throw InvalidInput("remote URL '{}': must be s3://BUCKET[/PREFIX]", url);
  std::string rest = url.substr(5);
  auto slash = rest.find('/');
  S3Url u{rest.substr(0, slash), slash == std::string::npos ? "" : rest.substr(slash + 1)};
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  bool ok = u.bucket.size() >= 3 && u.bucket.size() <= 63 &&
            std::isalnum(static_cast<unsigned char>(u.bucket.front())) &&
            std::isalnum(static_cast<unsigned char>(u.bucket.back()));
  for (char c : u.bucket) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  if (!ok)
    throw InvalidInput("remote URL '{}': bucket '{}' must be 3 to 63 of a-z, 0-9, '.' and '-' (S3 bucket naming)", url,
                       u.bucket);
  bool ip = u.bucket.find_first_not_of("0123456789.") == std::string::npos;
  if (ip)
    throw InvalidInput("remote URL '{}': bucket '{}' is formatted as an IP address (S3 bucket naming)", url, u.bucket);
  // Every segment of the prefix is a key part as written: no empty, "." or ".." segment
  // (a URL library or server would fold them, and the objects would land elsewhere).
  for (std::size_t b = 0; !u.prefix.empty() && b <= u.prefix.size();) {
    auto e = u.prefix.find('/', b);
    if (e == std::string::npos) e = u.prefix.size();
    std::string seg = u.prefix.substr(b, e - b);
    if (seg.empty() || seg == "." || seg == "..")
      throw InvalidInput("remote URL '{}': prefix segment '{}' is not allowed (no empty, '.' or '..' segments)", url,
                         seg);
    b = e + 1;
  }
  for (unsigned char c : u.prefix)
    if (c < 0x20 || c == 0x7f || c == '\\')
      throw InvalidInput("remote URL '{}': the prefix holds a control character or a backslash", url);
  return u;
}

S3Credentials find_credentials(const std::string& profile, const std::string& credential_path) {
  S3Credentials c;
  if (!env("AWS_ACCESS_KEY_ID").empty() && !env("AWS_SECRET_ACCESS_KEY").empty() && profile.empty()) {
    c = {env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"), "the environment"};
    return c;
  }
  const std::string name = profile_name(profile);
  const std::string cred_file = home_file(credential_path, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
  Ini creds = read_ini(cred_file);
  if (auto it = creds.find(name); it != creds.end()) {
    c = {value_of(it->second, "aws_access_key_id"), value_of(it->second, "aws_secret_access_key"),
         value_of(it->second, "aws_session_token"), fmt::format("profile '{}' in {}", name, cred_file)};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
  }
  const std::string config_file = home_file("", "AWS_CONFIG_FILE", ".aws/config");
  Ini config = read_ini(config_file);
  if (auto* s = config_section(config, name)) {
    c = {value_of(*s, "aws_access_key_id"), value_of(*s, "aws_secret_access_key"), value_of(*s, "aws_session_token"),
         fmt::format("profile '{}' in {}", name, config_file)};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
  }
  throw InvalidInput(
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '{}' aws_access_key_id and "
      "aws_secret_access_key in {} (looked there and in {})",
      name, cred_file, config_file);
}

std::string find_region(const std::string& profile) {
  if (auto r = env("AWS_REGION"); !r.empty()) return r;
  if (auto r = env("AWS_DEFAULT_REGION"); !r.empty()) return r;
  Ini config = read_ini(home_file("", "AWS_CONFIG_FILE", ".aws/config"));
  if (auto* s = config_section(config, profile_name(profile)))
    if (auto r = value_of(*s, "region"); !r.empty()) return r;
  return "us-east-1";
}

struct S3Client::Response {
  long status = 0;
  std::string body;
  std::string transport_error;  // "" when an answer came
  std::uint64_t content_length = 0;
};

S3Client::S3Client(S3Options options, std::string bucket) : o_(std::move(options)), bucket_(std::move(bucket)) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw Internal("curl_easy_init failed");
  if (o_.endpoint.empty()) o_.endpoint = fmt::format("https://s3.{}.amazonaws.com", o_.region);
  while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
  if (o_.endpoint.rfind("http://", 0) != 0 && o_.endpoint.rfind("https://", 0) != 0)
    throw InvalidInput("{}: endpointurl '{}' must start with http:// or https://", o_.label, o_.endpoint);
  if (o_.label.empty()) o_.label = "s3://" + bucket_;
}

S3Client::~S3Client() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string S3Client::url_for(const std::string& key, const std::string& query) const {
  std::string path = key.empty() ? "" : "/" + s3_uri_encode(key, true);
  std::string url;
  if (o_.path_style) {
    url = o_.endpoint + "/" + bucket_ + path;
  } else {
    auto scheme_end = o_.endpoint.find("://") + 3;
    url = o_.endpoint.substr(0, scheme_end) + bucket_ + "." + o_.endpoint.substr(scheme_end) +
          (path.empty() ? "/" : path);
  }
  return query.empty() ? url : url + "?" + query;
}

std::string S3Client::describe(const std::string& method, const std::string& key) const {
  return fmt::format("{}: {} {}", o_.label, method, key.empty() ? "s3://" + bucket_ : key);
}

S3Client::Response S3Client::send_once(const std::string& method, const std::string& url, std::string_view body,
                                       bool want_body) {
  auto* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // keeps the connection alive
  Response r;
  Upload up{body};
  curl_slist* headers = nullptr;
  std::string sha = method == "PUT" ? util::sha256_hex(body) : kEmptySha256;
  headers = curl_slist_append(headers, ("x-amz-content-sha256: " + sha).c_str());
  if (method == "PUT")
    headers = curl_slist_append(headers, ("Content-MD5: " + util::base64(hex_to_bytes(util::md5_hex(body)))).c_str());
  if (!o_.credentials.session_token.empty())
    headers = curl_slist_append(headers, ("x-amz-security-token: " + o_.credentials.session_token).c_str());
  std::string sigv4 = "aws:amz:" + o_.region + ":s3";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, o_.credentials.access_key_id.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, o_.credentials.secret_access_key.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout_seconds * 1000));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout_seconds * 1000));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o_.ssl_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o_.ssl_verify ? 2L : 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  ++requests_;
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    r.transport_error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t len = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
  r.content_length = len > 0 ? static_cast<std::uint64_t>(len) : 0;
  if (!want_body && r.status < 300) r.body.clear();
  return r;
}

S3Client::Response S3Client::send(const std::string& method, const std::string& key, const std::string& query,
                                  std::string_view body, bool want_body) {
  const std::string url = url_for(key, query);
  static thread_local std::mt19937 jitter(std::random_device{}());
  double wait = o_.backoff_seconds;
  for (int attempt = 0;; ++attempt) {
    Response r = send_once(method, url, body, want_body);
    std::string code = r.transport_error.empty() ? xml_field(r.body, "Code") : "";
    // Server trouble, throttling, a timeout, or a body damaged on the way: try again.
    bool retry = !r.transport_error.empty() || r.status >= 500 || r.status == 429 || code == "RequestTimeout" ||
                 code == "BadDigest" || code == "XAmzContentSHA256Mismatch";
    if (!retry || attempt >= o_.retries) {
      if (!r.transport_error.empty())
        throw Unavailable("{}: {} (after {} tries)", describe(method, key), r.transport_error, attempt + 1);
      return r;
    }
    std::this_thread::sleep_for(
        std::chrono::duration<double>(wait * std::uniform_real_distribution<>(0.5, 1.5)(jitter)));
    wait *= 2;
  }
}

namespace {

[[noreturn]] void fail(const std::string& what, long status, const std::string& body, const std::string& creds) {
  std::string code = xml_field(body, "Code"), message = xml_field(body, "Message");
  std::string detail =
      code.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {} {}: {}", status, code, message);
  if (status == 403)
    throw Denied("{}: {} (credentials from {}; check the key, the secret and the region)", what, detail, creds);
  if (status == 404) throw NotFound("{}: {}", what, detail);
  if (status >= 500 || status == 429) throw Unavailable("{}: {} (retries exhausted)", what, detail);
  throw InvalidInput("{}: {}", what, detail);
}

}  // namespace

std::optional<std::uint64_t> S3Client::head(const std::string& key) {
  Response r = send("HEAD", key, "", {}, false);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) {
    // A HEAD answer has no body: ask again with GET for S3's <Code> and <Message>.
    Response g = send("GET", key, "", {}, true);
    fail(describe("HEAD", key), g.status == r.status ? g.status : r.status, g.status == r.status ? g.body : "",
         o_.credentials.source);
  }
  return r.content_length;
}

std::string S3Client::get(const std::string& key) {
  Response r = send("GET", key, "", {}, true);
  if (r.status != 200) fail(describe("GET", key), r.status, r.body, o_.credentials.source);
  return std::move(r.body);
}

void S3Client::put(const std::string& key, std::string_view body) {
  Response r = send("PUT", key, "", body, false);
  if (r.status != 200) fail(describe("PUT", key), r.status, r.body, o_.credentials.source);
}

void S3Client::remove(const std::string& key) {
  Response r = send("DELETE", key, "", {}, false);
  if (r.status != 204 && r.status != 200 && r.status != 404)
    fail(describe("DELETE", key), r.status, r.body, o_.credentials.source);
}

void S3Client::create_bucket() {
  Response r = send("PUT", "", "", {}, false);
  if (r.status == 200) return;
  if (r.status == 409 && xml_field(r.body, "Code") == "BucketAlreadyOwnedByYou") return;
  fail(describe("PUT", ""), r.status, r.body, o_.credentials.source);
}

std::vector<S3Object> S3Client::list(const std::string& prefix) {
  std::vector<S3Object> out;
  std::string token;
  for (;;) {
    // Canonical already (sorted, every name with '='): curl 7.88.1 signs it as given.
    std::string query = (token.empty() ? "" : "continuation-token=" + s3_uri_encode(token, false) + "&") +
                        "list-type=2&prefix=" + s3_uri_encode(prefix, false);
    Response r = send("GET", "", query, {}, true);
    if (r.status != 200) fail(describe("LIST", prefix + "*"), r.status, r.body, o_.credentials.source);
    std::size_t at = 0;
    for (;;) {
      auto b = r.body.find("<Contents>", at);
      if (b == std::string::npos) break;
      auto e = r.body.find("</Contents>", b);
      if (e == std::string::npos) break;
      std::string_view item(r.body.data() + b, e - b);
      out.push_back({xml_field(item, "Key"), std::strtoull(xml_field(item, "Size").c_str(), nullptr, 10)});
      at = e;
    }
    if (xml_field(r.body, "IsTruncated") != "true") break;
    token = xml_field(r.body, "NextContinuationToken");
    if (token.empty())
      throw Unavailable("{}: a truncated listing without a continuation token", describe("LIST", prefix));
  }
  return out;
}

}  // namespace wms::data
