// The hosted-git service (GitHub, GitHub Enterprise, or anything that speaks GitHub's
// REST v3 API such as Gitea/Forgejo for the calls below): open the data branch's pull
// request and request auto-merge, as the original's create-pr job did with `gh`.
//
//   git:
//     hosting:
//       repository: owner/name
//       api_url: https://api.github.com     # GitHub Enterprise: https://HOST/api/v3
//       token_env: GITHUB_TOKEN             # the token (a secret) from the environment
//       remote: origin                      # where the data branch is pushed first
//       base: main                          # default: the checked-out branch
//       auto_merge: true                    # request a squash auto-merge
//       timeout_seconds: 15
//
// Calls: GET /repos/{repo}/pulls?head=owner:branch (reuse an open PR: a resumed run
// opens no second one), POST /repos/{repo}/pulls, then GraphQL
// enablePullRequestAutoMerge(SQUASH). When the service answers that the PR is already
// mergeable ("clean status": no checks to wait for), it is squash-merged at once with
// PUT /repos/{repo}/pulls/{n}/merge, which is what `gh pr merge --auto` does. The
// token is sent only in the Authorization header and never logged.
#pragma once

#include <optional>
#include <string>

#include "wms/util/config.hpp"
#include "wms/util/options.hpp"

namespace wms::vcs {

struct HostingOptions {
  std::string repository;  ///< owner/name
  std::string api_url = "https://api.github.com";
  std::string token_env = "GITHUB_TOKEN";  ///< where the token is read from
  std::string token;                       ///< read from token_env; never recorded
  std::string remote = "origin";
  std::string base;  ///< "" = the checked-out branch
  bool auto_merge = true;
  double timeout_seconds = 15;
};

/// git.hosting from a config; nullopt when git.hosting.repository is not set. Throws
/// InvalidInput naming the key (also when token_env's variable is unset).
std::optional<HostingOptions> hosting_options(const util::Config& config);
/// The git.hosting keys but the token itself (util/options.hpp).
const util::OptionTable<HostingOptions>& hosting_option_table();

struct PullRequest {
  long number = 0;
  std::string url;             ///< the PR's web page
  bool reused = false;         ///< an open PR for this branch existed
  std::string merge = "none";  ///< none | auto (auto-merge requested) | merged (squash-merged now)
  std::string merge_note;      ///< why auto-merge was not requested, if it was not
};

/// Opens (or finds) the PR head -> base and requests auto-merge. Throws IoError
/// naming the call and the service's message when the PR cannot be opened; a refused
/// auto-merge is reported in merge_note, not thrown (the PR stays open for a person).
PullRequest open_pull_request(const HostingOptions& o, const std::string& head, const std::string& base,
                              const std::string& title, const std::string& body);

}  // namespace wms::vcs
