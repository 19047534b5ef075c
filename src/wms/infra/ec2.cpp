#include "wms/infra/ec2.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "wms/data/s3.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"
#include "wms/version.hpp"

namespace wms::infra {
namespace {

constexpr const char* kApiVersion = "2016-11-15";  // the EC2 Query API's current version
constexpr const char* kLeaseTag = "wms:lease";
constexpr const char* kOwnerTag = "wms:owner";

// A parsed reply (libxml2), walked by element names without their namespace.
struct Xml {
  xmlDocPtr doc = nullptr;
  explicit Xml(const std::string& body)
      : doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), "ec2.xml", nullptr,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) {}
  ~Xml() { xmlFreeDoc(doc); }
  Xml(const Xml&) = delete;
  Xml& operator=(const Xml&) = delete;
  xmlNodePtr root() const { return doc ? xmlDocGetRootElement(doc) : nullptr; }
};

std::vector<xmlNodePtr> elements(xmlNodePtr n, const char* name) {
  std::vector<xmlNodePtr> out;
  for (xmlNodePtr c = n ? n->children : nullptr; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && std::strcmp(reinterpret_cast<const char*>(c->name), name) == 0) out.push_back(c);
  return out;
}

xmlNodePtr element(xmlNodePtr n, const char* name) {
  auto all = elements(n, name);
  return all.empty() ? nullptr : all[0];
}

std::string text(xmlNodePtr n) {
  if (!n) return "";
  xmlChar* t = xmlNodeGetContent(n);
  std::string s = t ? reinterpret_cast<const char*>(t) : "";
  xmlFree(t);
  return s;
}

// <path>/<to>/<text>, "" when any step is missing.
std::string at(xmlNodePtr n, std::initializer_list<const char*> path) {
  for (const char* p : path) n = element(n, p);
  return text(n);
}

struct Ec2Instance {
  std::string id, state, type, address;
  std::map<std::string, std::string> tags;
};

std::vector<Ec2Instance> instances_of(xmlNodePtr root) {
  std::vector<Ec2Instance> out;
  for (auto r : elements(element(root, "reservationSet"), "item"))
    for (auto i : elements(element(r, "instancesSet"), "item")) {
      Ec2Instance e;
      e.id = at(i, {"instanceId"});
      e.state = at(i, {"instanceState", "name"});
      e.type = at(i, {"instanceType"});
      for (const char* a : {"ipAddress", "dnsName", "privateIpAddress"})
        if (e.address.empty()) e.address = at(i, {a});
      for (auto t : elements(element(i, "tagSet"), "item")) e.tags[at(t, {"key"})] = at(t, {"value"});
      out.push_back(e);
    }
  return out;
}

std::string form_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

class Ec2Provider final : public Provider {
 public:
  explicit Ec2Provider(Ec2Options o) : o_(std::move(o)), credentials_(data::find_credentials(o_.profile)) {
    if (o_.region.empty()) o_.region = data::find_region(o_.profile);
    if (o_.region.empty()) o_.region = "us-east-1";
    if (o_.endpoint.empty()) o_.endpoint = fmt::format("https://ec2.{}.amazonaws.com", o_.region);
  }
  std::string name() const override { return "ec2"; }
  std::string wms_program() const override { return o_.ssh.wms; }
  std::string worker_dir() const override { return o_.ssh.workdir; }
  std::vector<std::string> remote_argv(const Instance& i, const std::vector<std::string>& argv) const override {
    return ssh_argv(o_.ssh, i.address, argv);
  }

  Instance start(const std::string& lease_id, const std::string& owner, double hard_deadline) override {
    std::vector<std::pair<std::string, std::string>> tags = {
        {kLeaseTag, lease_id}, {kOwnerTag, owner}, {"Name", "wms-" + lease_id}};
    std::string id;
    if (!o_.instance_id.empty()) {
      id = o_.instance_id;
      call("StartInstances", {{"InstanceId.1", id}});
      Params p = {{"ResourceId.1", id}};
      for (std::size_t k = 0; k < tags.size(); ++k) {
        p.push_back({fmt::format("Tag.{}.Key", k + 1), tags[k].first});
        p.push_back({fmt::format("Tag.{}.Value", k + 1), tags[k].second});
      }
      call("CreateTags", p);
    } else {
      long minutes = std::max(1L, static_cast<long>(std::floor((hard_deadline - util::now_seconds()) / 60)));
      std::string user_data = fmt::format(
          "#!/bin/sh\n# wms lease {}: this instance ends itself at the lease's hard deadline\nshutdown -h +{}\n",
          lease_id, minutes);
      Params p = {{"ImageId", o_.image_id},
                  {"InstanceType", o_.instance_type},
                  {"MinCount", "1"},
                  {"MaxCount", "1"},
                  {"ClientToken", lease_id},
                  {"InstanceInitiatedShutdownBehavior", "terminate"},
                  {"UserData", util::base64(user_data)},
                  {"TagSpecification.1.ResourceType", "instance"}};
      for (std::size_t k = 0; k < tags.size(); ++k) {
        p.push_back({fmt::format("TagSpecification.1.Tag.{}.Key", k + 1), tags[k].first});
        p.push_back({fmt::format("TagSpecification.1.Tag.{}.Value", k + 1), tags[k].second});
      }
      if (!o_.subnet_id.empty()) p.push_back({"SubnetId", o_.subnet_id});
      if (!o_.key_name.empty()) p.push_back({"KeyName", o_.key_name});
      for (std::size_t k = 0; k < o_.security_group_ids.size(); ++k)
        p.push_back({fmt::format("SecurityGroupId.{}", k + 1), o_.security_group_ids[k]});
      Xml x(call("RunInstances", p));
      id = at(element(element(x.root(), "instancesSet"), "item"), {"instanceId"});
      if (id.empty()) throw Unavailable("ec2: RunInstances for lease {} answered without an instance id", lease_id);
    }
    // Wait until it runs (the address is known then).
    for (int i = 0; i < 120; ++i) {
      Xml x(call("DescribeInstances", {{"InstanceId.1", id}}));
      auto all = instances_of(x.root());
      if (!all.empty() && all[0].state == "running")
        return {"ec2", id, all[0].address, all[0].type.empty() ? o_.instance_type : all[0].type};
      if (!all.empty() && (all[0].state == "terminated" || all[0].state == "shutting-down"))
        throw Unavailable("ec2: instance {} for lease {} is {} before it ran", id, lease_id, all[0].state);
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    throw Unavailable("ec2: instance {} for lease {} did not reach 'running' in 240 s", id, lease_id);
  }

  void stop(const Instance& i, const std::string& lease_id) override {
    try {
      if (!o_.instance_id.empty() && i.id == o_.instance_id) {
        call("StopInstances", {{"InstanceId.1", i.id}});
        call("DeleteTags", {{"ResourceId.1", i.id}, {"Tag.1.Key", kLeaseTag}, {"Tag.2.Key", kOwnerTag}});
        std::fprintf(stderr, "ec2: stopped %s (lease %s); a stopped instance still costs its disk (%.4f/hour)\n",
                     i.id.c_str(), lease_id.c_str(), o_.stopped_cost_per_hour);
      } else {
        call("TerminateInstances", {{"InstanceId.1", i.id}});
      }
    } catch (const NotFound&) {  // already gone
    }
  }

  std::vector<TaggedMachine> find() override {
    Xml x(call("DescribeInstances", {{"Filter.1.Name", "tag-key"},
                                     {"Filter.1.Value.1", kLeaseTag},
                                     {"Filter.2.Name", "instance-state-name"},
                                     {"Filter.2.Value.1", "pending"},
                                     {"Filter.2.Value.2", "running"},
                                     {"Filter.2.Value.3", "stopping"},
                                     {"Filter.2.Value.4", "stopped"}}));
    std::vector<TaggedMachine> out;
    for (const auto& e : instances_of(x.root())) {
      // A state wms does not know is a state it cannot read (the reaper's grace applies).
      static const std::set<std::string> known = {"pending", "running",       "stopping",
                                                  "stopped", "shutting-down", "terminated"};
      std::string state = known.count(e.state) ? e.state : "";
      // A named instance that is stopped is not leaked: it is where it should be.
      if (e.id == o_.instance_id && (state == "stopped" || state == "stopping")) continue;
      auto tag = [&](const char* k) { return e.tags.count(k) ? e.tags.at(k) : std::string(); };
      out.push_back({{"ec2", e.id, e.address, e.type}, tag(kLeaseTag), tag(kOwnerTag), state});
    }
    return out;
  }

 private:
  using Params = std::vector<std::pair<std::string, std::string>>;

  // One Query API call, retried on throttling, 5xx and transport errors. Returns the body.
  std::string call(const std::string& action, const Params& params) {
    std::string body = "Action=" + action + "&Version=" + kApiVersion;
    for (const auto& [k, v] : params) body += "&" + form_escape(k) + "=" + form_escape(v);
    std::mt19937 rng(std::random_device{}());
    std::string last;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
      if (attempt > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(
            std::uniform_int_distribution<int>(0, static_cast<int>(200 * std::pow(2, attempt - 1)))(rng)));
      long status = 0;
      std::string reply;
      CURLcode rc = post(body, status, reply);
      if (rc != CURLE_OK) {
        last = fmt::format("{} ({})", curl_easy_strerror(rc), o_.endpoint);
        continue;
      }
      if (status < 300) return reply;
      Xml x(reply);
      auto err = element(element(x.root(), "Errors"), "Error");
      std::string code = at(err, {"Code"}), message = at(err, {"Message"});
      last = fmt::format("HTTP {} {}: {}", status, code.empty() ? "(no code)" : code, message);
      if (status >= 500 || code == "RequestLimitExceeded" || code == "Throttling" || code == "ServiceUnavailable")
        continue;
      if (status == 401 || status == 403 || code == "AuthFailure" || code == "UnauthorizedOperation")
        throw Denied("ec2 {} at {}: {} (credentials: {})", action, o_.endpoint, last, credentials_.source);
      if (code.rfind("InvalidInstanceID.NotFound", 0) == 0) throw NotFound("ec2 {}: {}", action, last);
      throw InvalidInput("ec2 {} refused: {}", action, last);
    }
    throw Unavailable("ec2 {} at {}: retries exhausted ({} tries): {}", action, o_.endpoint, o_.retries + 1, last);
  }

  CURLcode post(const std::string& body, long& status, std::string& reply) {
    CURL* c = curl_easy_init();
    if (!c) return CURLE_FAILED_INIT;
    std::string sigv4 = "aws:amz:" + o_.region + ":ec2";
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    if (!credentials_.session_token.empty())
      headers = curl_slist_append(headers, ("X-Amz-Security-Token: " + credentials_.session_token).c_str());
    std::string url = o_.endpoint + "/";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.read_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, (std::string("wms/") + kVersion).c_str());
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return rc;
  }

  Ec2Options o_;
  data::S3Credentials credentials_;
};

}  // namespace

Ec2Options ec2_options(const util::Config& c) {
  Ec2Options o;
  o.region = c.get_string("infra.ec2.region", "");
  o.endpoint = c.get_string("infra.ec2.endpoint", "");
  o.profile = c.get_string("infra.ec2.profile", "");
  o.image_id = c.get_string("infra.ec2.image_id", "");
  o.instance_type = c.get_string("infra.ec2.instance_type", o.instance_type);
  o.subnet_id = c.get_string("infra.ec2.subnet_id", "");
  o.key_name = c.get_string("infra.ec2.key_name", "");
  o.instance_id = c.get_string("infra.ec2.instance_id", "");
  o.security_group_ids = c.get_string_list("infra.ec2.security_group_ids", {});
  o.stopped_cost_per_hour = c.get_double("infra.ec2.stopped_cost_per_hour", 0);
  o.retries = static_cast<int>(c.get_int("infra.ec2.retries", o.retries));
  if (o.image_id.empty() == o.instance_id.empty())
    throw InvalidInput(
        "{}: infra.ec2: give image_id (a new instance per run, terminated after) or instance_id (one instance you "
        "keep, started and stopped), not {}",
        c.source(), o.image_id.empty() ? "neither" : "both");
  if (!o.endpoint.empty() && o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0)
    throw InvalidInput("{}: infra.ec2.endpoint: '{}' must start with https:// (or http:// for a local test server)",
                       c.source(), o.endpoint);
  if (o.retries < 0 || o.retries > 10) throw InvalidInput("{}: infra.ec2.retries: must be in [0, 10]", c.source());
  o.ssh = ssh_options(c, "infra.ec2.ssh", false);
  o.ssh.instance_type = o.instance_type;
  return o;
}

std::unique_ptr<Provider> make_ec2_provider(const Ec2Options& o) {
  return std::make_unique<Ec2Provider>(o);
}

}  // namespace wms::infra
