#include "wms/vcs/hosting.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "wms/util/error.hpp"
#include "wms/util/http.hpp"
#include "wms/version.hpp"

namespace wms::vcs {
namespace {

using nlohmann::json;

// The messages of a body's "errors" array (REST details, GraphQL errors), "; "-joined.
std::string error_messages(const json& j) {
  std::string out;
  if (j.is_object() && j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"])
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        out += (out.empty() ? "" : "; ") + e["message"].get<std::string>();
  return out;
}

// The service's own words from an error body ({"message", "errors": [...]}).
std::string service_message(const util::HttpResponse& r) {
  std::string out = r.what();
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return out;
  if (j.contains("message") && j["message"].is_string()) out += ": " + j["message"].get<std::string>();
  if (std::string more = error_messages(j); !more.empty()) out += "; " + more;
  return out;
}

struct Api {
  const HostingOptions& o;
  util::HttpResponse call(const std::string& method, const std::string& url, const json& body = nullptr) const {
    std::vector<std::string> headers = {"Accept: application/vnd.github+json", "X-GitHub-Api-Version: 2022-11-28",
                                        std::string("User-Agent: wms/") + kVersion, "Authorization: Bearer " + o.token};
    if (!body.is_null()) headers.push_back("Content-Type: application/json");
    return util::http_request(method, url, headers, body.is_null() ? "" : body.dump(), o.timeout_seconds);
  }
  std::string rest(const std::string& path) const { return o.api_url + "/repos/" + o.repository + path; }
  // GitHub: https://api.github.com/graphql; Enterprise: https://HOST/api/graphql.
  std::string graphql() const {
    const std::string v3 = "/api/v3";
    if (o.api_url.size() > v3.size() && o.api_url.compare(o.api_url.size() - v3.size(), v3.size(), v3) == 0)
      return o.api_url.substr(0, o.api_url.size() - v3.size()) + "/api/graphql";
    return o.api_url + "/graphql";
  }
};

}  // namespace

const util::OptionTable<HostingOptions>& hosting_option_table() {
  static const auto t =
      util::OptionTable<HostingOptions>()
          .add("git.hosting.repository", "repository", WMS_MEMBER(repository), "owner/name of the hosted repository")
          .add("git.hosting.api_url", "api_url", WMS_MEMBER(api_url),
               "the REST API's root (GitHub Enterprise: .../api/v3)")
          .add("git.hosting.remote", "remote", WMS_MEMBER(remote), "the git remote the branch is pushed to")
          .add("git.hosting.base", "base", WMS_MEMBER(base), "the PR's base branch; empty: the checked-out one")
          .add("git.hosting.auto_merge", "auto_merge", WMS_MEMBER(auto_merge), "ask for auto-merge (squash)")
          .add("git.hosting.token_env", "token_env", WMS_MEMBER(token_env), "environment variable holding the token")
          .add("git.hosting.timeout_seconds", "timeout_seconds", WMS_MEMBER(timeout_seconds), "per API call",
               util::Range::above(0));
  return t;
}

std::optional<HostingOptions> hosting_options(const util::Config& c) {
  if (!c.has("git.hosting.repository")) return std::nullopt;
  HostingOptions o;
  hosting_option_table().read(o, c);
  auto slash = o.repository.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == o.repository.size() ||
      o.repository.find_first_of("/?#% ", slash + 1) != std::string::npos)
    throw InvalidInput("{}: git.hosting.repository: must be owner/name (got '{}')", c.source(), o.repository);
  while (!o.api_url.empty() && o.api_url.back() == '/') o.api_url.pop_back();
  if (o.api_url.rfind("https://", 0) != 0 && o.api_url.rfind("http://", 0) != 0)
    throw InvalidInput("{}: git.hosting.api_url: must start with https:// (or http://)", c.source());
  const std::string& env = o.token_env;
  const char* token = std::getenv(env.c_str());
  if (!token || !*token)
    throw InvalidInput("{}: git.hosting.token_env: the environment variable {} is not set", c.source(), env);
  o.token = token;
  return o;
}

PullRequest open_pull_request(const HostingOptions& o, const std::string& head, const std::string& base,
                              const std::string& title, const std::string& body) {
  Api api{o};
  const std::string owner = o.repository.substr(0, o.repository.find('/'));
  PullRequest pr;
  json found;
  auto list = api.call("GET", api.rest("/pulls?state=open&head=" + owner + ":" + head));
  if (list.ok()) {
    auto j = json::parse(list.body, nullptr, false);
    if (j.is_array() && !j.empty() && j[0].is_object()) found = j[0];
  }
  if (found.is_null()) {
    auto created =
        api.call("POST", api.rest("/pulls"), {{"title", title}, {"head", head}, {"base", base}, {"body", body}});
    if (!created.ok())
      throw IoError(util::redact_url(o.api_url), fmt::format("opening the pull request {} -> {} in {} failed: {}", head,
                                                             base, o.repository, service_message(created)));
    found = json::parse(created.body, nullptr, false);
  } else {
    pr.reused = true;
  }
  if (!found.is_object() || !found.contains("number") || !found["number"].is_number_integer())
    throw IoError(util::redact_url(o.api_url), "the pull request answer has no number");
  pr.number = found["number"];
  pr.url = found.value("html_url", "");
  if (!o.auto_merge) return pr;

  const std::string node = found.value("node_id", "");
  json q = {{"query",
             "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, "
             "mergeMethod: SQUASH}) "
             "{ pullRequest { number } } }"},
            {"variables", {{"id", node}}}};
  auto r = api.call("POST", api.graphql(), q);
  std::string errors = error_messages(json::parse(r.body, nullptr, false));
  if (r.ok() && errors.empty()) {
    pr.merge = "auto";
    return pr;
  }
  if (errors.find("clean status") != std::string::npos) {
    // Nothing to wait for: merge now, as `gh pr merge --auto --squash` does.
    auto m = api.call("PUT", api.rest(fmt::format("/pulls/{}/merge", pr.number)),
                      {{"merge_method", "squash"}, {"commit_title", title}, {"commit_message", body}});
    if (m.ok()) {
      pr.merge = "merged";
      return pr;
    }
    pr.merge_note = "squash merge refused: " + service_message(m);
    return pr;
  }
  pr.merge_note = "auto-merge refused: " + (errors.empty() ? service_message(r) : errors);
  return pr;
}

}  // namespace wms::vcs
