// A local stand-in for GitHub's REST and GraphQL endpoints used by wms's pull
// requests, recording every request so tests can check what was sent.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wms::testing {

struct FakeGitHub {
  struct Call {
    std::string method, path, query_head, authorization, body;
  };
  // Behaviour knobs.
  bool pr_exists = false;     ///< GET pulls answers one open PR (number 3)
  int create_status = 201;    ///< POST pulls answer
  std::string graphql_error;  ///< "" = auto-merge accepted; else the error message
  int merge_status = 200;     ///< PUT merge answer

  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<Call> calls;

  FakeGitHub() {
    auto record = [this](const httplib::Request& req) {
      std::lock_guard lock(mu);
      calls.push_back(
          {req.method, req.path, req.get_param_value("head"), req.get_header_value("Authorization"), req.body});
    };
    server.Get(R"(/repos/([^/]+)/([^/]+)/pulls)", [=, this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      nlohmann::json a = nlohmann::json::array();
      if (pr_exists)
        a.push_back({{"number", 3}, {"html_url", "https://git.test/acme/meters/pull/3"}, {"node_id", "PR_3"}});
      res.set_content(a.dump(), "application/json");
    });
    server.Post(R"(/repos/([^/]+)/([^/]+)/pulls)", [=, this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = create_status;
      if (create_status == 201)
        res.set_content(R"({"number": 7, "html_url": "https://git.test/acme/meters/pull/7", "node_id": "PR_7"})",
                        "application/json");
      else
        res.set_content(
            R"({"message": "Validation Failed", "errors": [{"message": "No commits between main and data/x"}]})",
            "application/json");
    });
    server.Post("/graphql", [=, this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      if (graphql_error.empty())
        res.set_content(R"({"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": 7}}}})",
                        "application/json");
      else
        res.set_content(nlohmann::json{{"errors", {{{"message", graphql_error}}}}}.dump(), "application/json");
    });
    server.Put(
        R"(/repos/([^/]+)/([^/]+)/pulls/(\d+)/merge)", [=, this](const httplib::Request& req, httplib::Response& res) {
          record(req);
          res.status = merge_status;
          res.set_content(merge_status == 200 ? R"({"merged": true})" : R"({"message": "Base branch was modified"})",
                          "application/json");
        });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeGitHub() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::vector<Call> seen() {
    std::lock_guard lock(mu);
    return calls;
  }
};

}  // namespace wms::testing
