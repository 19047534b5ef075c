// A small S3 client over libcurl: the requests a DVC-layout remote needs (HEAD, GET,
// PUT, DELETE of one object; ListObjectsV2), signed with AWS Signature V4.
//
// Signing is libcurl's own (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"). Debian 12 ships
// curl 7.88.1, which signs what it is given and no more, so this client hands it a
// request that is already canonical: the path S3-encoded (every byte but
// A-Za-z0-9-._~/ as %XX, upper-case hex), the query sorted and encoded with every
// name followed by '=', an `x-amz-content-sha256` header on every request (7.88.1
// hashes only POSTFIELDS itself and adds no such header), `X-Amz-Date` left to curl
// (7.88.1 sends a user-set one twice), and no header-removal entries ("Expect:": they
// enter SignedHeaders). The access key and secret go through CURLOPT_USERNAME and
// CURLOPT_PASSWORD, not "key:secret" (Swift's tempauth keys hold a colon).
// Every upload carries Content-MD5 and the body's SHA-256, so the server refuses a
// body damaged on the way (Swift s3api checks both; AWS does too).
//
// Errors: an S3 error answer becomes one line naming the request, the HTTP status and
// S3's <Code> and <Message> (never the XML): 403 -> Denied, 404 -> NotFound (head()
// answers nullopt instead), other 4xx -> InvalidInput, 5xx, 429 and transport failures
// are retried with exponential backoff (`retries` times) and then -> Unavailable.
//
// Thread safety: an S3Client is one connection (kept alive between requests) and is
// used by one thread at a time; make one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wms::data {

/// "s3://bucket/some/prefix" -> {bucket, "some/prefix"} (no leading or trailing '/').
/// Throws InvalidInput naming the URL and the rule (S3 bucket naming: 3-63 of a-z0-9.-).
struct S3Url {
  std::string bucket;
  std::string prefix;
};
S3Url parse_s3_url(const std::string& url);

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< "" unless temporary credentials
  std::string source;         ///< where they came from, for messages: "environment", "profile 'p' in FILE"
};

/// Finds credentials the way the AWS CLI does: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
/// (+ AWS_SESSION_TOKEN) from the environment; else the profile (`profile`, else
/// AWS_PROFILE, else "default") in the shared credentials file (`credential_path`,
/// else AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), then in the config file
/// (AWS_CONFIG_FILE, else ~/.aws/config, section "[profile NAME]" or "[default]").
/// Throws InvalidInput saying where it looked when there are none.
S3Credentials find_credentials(const std::string& profile = "", const std::string& credential_path = "");

/// The region for a profile: AWS_REGION, AWS_DEFAULT_REGION, the config file's
/// `region`, else "us-east-1".
std::string find_region(const std::string& profile = "");

struct S3Options {
  /// scheme://host[:port] of the server; "" = AWS (https://s3.REGION.amazonaws.com).
  std::string endpoint;
  std::string region = "us-east-1";
  /// Path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) addressing.
  bool path_style = true;
  bool ssl_verify = true;
  S3Credentials credentials;
  double connect_timeout_seconds = 10;
  double timeout_seconds = 300;  ///< one request, whole
  int retries = 5;               ///< after the first try, for 5xx/429/transport errors
  double backoff_seconds = 0.2;  ///< first wait, doubled each retry (with jitter)
  /// For messages: what the caller calls this store ("remote 'storage' (s3://b/p)").
  std::string label;
};

struct S3Object {
  std::string key;
  std::uint64_t size = 0;
};

class S3Client {
 public:
  S3Client(S3Options options, std::string bucket);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  /// The object's size, or nullopt when it does not exist.
  std::optional<std::uint64_t> head(const std::string& key);
  /// The object's bytes. Throws NotFound when it does not exist.
  std::string get(const std::string& key);
  /// Stores bytes under key (Content-MD5 and x-amz-content-sha256 sent).
  void put(const std::string& key, std::string_view body);
  /// Deletes one object (no error when it is already gone).
  void remove(const std::string& key);
  /// Every object under a key prefix, in key order (ListObjectsV2, 1000 a page).
  std::vector<S3Object> list(const std::string& prefix);
  /// Creates the bucket (for tests and first use); no error when this client owns it already.
  void create_bucket();

  /// Requests sent so far (retries included), for summaries and tests.
  std::uint64_t requests() const { return requests_; }

 private:
  struct Response;
  Response send(const std::string& method, const std::string& key, const std::string& query, std::string_view body,
                bool want_body);
  Response send_once(const std::string& method, const std::string& url, std::string_view body, bool want_body);
  std::string url_for(const std::string& key, const std::string& query) const;
  std::string describe(const std::string& method, const std::string& key) const;

  S3Options o_;
  std::string bucket_;
  void* curl_ = nullptr;  // CURL*, kept for keep-alive
  std::uint64_t requests_ = 0;
};

/// S3's URI encoding of a key or path: every byte but A-Za-z0-9-._~ (and '/' when
/// keep_slash) as %XX with upper-case hex (SigV4's canonical URI rule for S3).
std::string s3_uri_encode(std::string_view s, bool keep_slash);

}  // namespace wms::data
