#include "wms/vcs/hosting.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "vcs/fake_github.hpp"
#include "wms/util/error.hpp"

namespace wms::vcs {
namespace {

HostingOptions options(const testing::FakeGitHub& gh) {
  HostingOptions o;
  o.repository = "acme/meters";
  o.api_url = gh.url();
  o.token = "tok-123";
  o.timeout_seconds = 5;
  return o;
}

TEST(Hosting, OpensThePullRequestAndRequestsSquashAutoMerge) {
  testing::FakeGitHub gh;
  auto pr = open_pull_request(options(gh), "data/20261129-050000", "main", "data: 5 new images", "| test dice |");
  EXPECT_EQ(pr.number, 7);
  EXPECT_EQ(pr.url, "https://git.test/acme/meters/pull/7");
  EXPECT_EQ(pr.merge, "auto");
  EXPECT_FALSE(pr.reused);
  auto calls = gh.seen();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].method, "GET");
  EXPECT_EQ(calls[0].query_head, "acme:data/20261129-050000") << "looks for an open PR of the branch first";
  EXPECT_EQ(calls[1].method, "POST");
  EXPECT_EQ(calls[1].path, "/repos/acme/meters/pulls");
  auto body = nlohmann::json::parse(calls[1].body);
  EXPECT_EQ(body["head"], "data/20261129-050000");
  EXPECT_EQ(body["base"], "main");
  EXPECT_EQ(body["title"], "data: 5 new images");
  EXPECT_EQ(body["body"], "| test dice |");
  EXPECT_EQ(calls[2].path, "/graphql");
  auto q = nlohmann::json::parse(calls[2].body);
  EXPECT_NE(q["query"].get<std::string>().find("enablePullRequestAutoMerge"), std::string::npos);
  EXPECT_NE(q["query"].get<std::string>().find("SQUASH"), std::string::npos);
  EXPECT_EQ(q["variables"]["id"], "PR_7");
  for (const auto& c : calls) EXPECT_EQ(c.authorization, "Bearer tok-123") << c.path;
}

TEST(Hosting, MergesAtOnceWhenThereIsNothingToWaitFor) {
  testing::FakeGitHub gh;
  gh.graphql_error = "Pull request Pull request is in clean status";
  auto pr = open_pull_request(options(gh), "data/x", "main", "title", "body");
  EXPECT_EQ(pr.merge, "merged");
  auto calls = gh.seen();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3].method, "PUT");
  EXPECT_EQ(calls[3].path, "/repos/acme/meters/pulls/7/merge");
  EXPECT_EQ(nlohmann::json::parse(calls[3].body)["merge_method"], "squash");
}

TEST(Hosting, ARefusedAutoMergeLeavesThePullRequestOpenWithTheReason) {
  testing::FakeGitHub gh;
  gh.graphql_error = "Auto merge is not allowed for this repository";
  auto pr = open_pull_request(options(gh), "data/x", "main", "title", "body");
  EXPECT_EQ(pr.number, 7);
  EXPECT_EQ(pr.merge, "none");
  EXPECT_NE(pr.merge_note.find("Auto merge is not allowed"), std::string::npos) << pr.merge_note;
}

TEST(Hosting, AnOpenPullRequestOfTheBranchIsReused) {
  testing::FakeGitHub gh;
  gh.pr_exists = true;
  auto o = options(gh);
  o.auto_merge = false;
  auto pr = open_pull_request(o, "data/x", "main", "title", "body");
  EXPECT_TRUE(pr.reused);
  EXPECT_EQ(pr.number, 3);
  ASSERT_EQ(gh.seen().size(), 1u) << "no second PR, no merge request";
}

TEST(Hosting, ARefusedPullRequestThrowsWithTheServicesMessage) {
  testing::FakeGitHub gh;
  gh.create_status = 422;
  try {
    open_pull_request(options(gh), "data/x", "main", "title", "body");
    FAIL() << "expected an error";
  } catch (const IoError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("HTTP 422"), std::string::npos) << m;
    EXPECT_NE(m.find("No commits between"), std::string::npos) << m;
    EXPECT_EQ(m.find("tok-123"), std::string::npos) << "the token is never in a message";
  }
}

TEST(Hosting, AnUnreachableServiceIsAnError) {
  auto o = HostingOptions{};
  o.repository = "acme/meters";
  o.api_url = "http://127.0.0.1:1";
  o.token = "t";
  o.timeout_seconds = 2;
  EXPECT_THROW(open_pull_request(o, "data/x", "main", "t", "b"), IoError);
}

TEST(Hosting, OptionsNeedARepositoryAndTheTokenVariable) {
  EXPECT_FALSE(hosting_options(util::Config::parse("git: {mode: on}\n", "t")));
  EXPECT_THROW(hosting_options(util::Config::parse("git: {hosting: {repository: nope}}\n", "t")), InvalidInput);
  ::unsetenv("WMS_TEST_NO_SUCH_TOKEN");
  EXPECT_THROW(hosting_options(
                   util::Config::parse("git: {hosting: {repository: a/b, token_env: WMS_TEST_NO_SUCH_TOKEN}}\n", "t")),
               InvalidInput);
  ::setenv("WMS_TEST_HOSTING_TOKEN", "abc", 1);
  auto o =
      hosting_options(util::Config::parse("git: {hosting: {repository: a/b, token_env: WMS_TEST_HOSTING_TOKEN, "
                                          "api_url: 'https://ghe.test/api/v3/'}}\n",
                                          "t"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->token, "abc");
  EXPECT_EQ(o->api_url, "https://ghe.test/api/v3");
  EXPECT_EQ(o->remote, "origin");
}

}  // namespace
}  // namespace wms::vcs
