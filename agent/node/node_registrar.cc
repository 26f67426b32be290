#include "agent/node/node_registrar.h"

#include "absl/strings/str_cat.h"
#include "agent/api/pod_decode.h"
#include "core/json_decode.h"
#include "core/log.h"

namespace agent::node {

using nlohmann::json;

std::string nodePath(const std::string& nodeName) {
  return absl::StrCat("/api/v1/nodes/", nodeName);
}

namespace {

absl::StatusOr<api::ObjectMeta> metaFromBody(const std::string& body, const std::string& what) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": response is not a JSON object"));
  }
  api::ObjectMeta meta;
  core::JsonField root(j);
  absl::Status s = root["metadata"].get(meta);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  return meta;
}

absl::Status responseError(const kubeapi::Request& req, const kubeapi::Response& resp) {
  return absl::UnavailableError(resp.describe(req));
}

}  // namespace

absl::StatusOr<std::string> uidFromBody(const std::string& body, const std::string& what) {
  auto meta = metaFromBody(body, what);
  if (!meta.ok()) return meta.status();
  if (meta->uid.empty()) return absl::InvalidArgumentError(what + ": metadata.uid is empty");
  return meta->uid;
}

NodeRegistrar::NodeRegistrar(kubeapi::ApiClient& api, const NodeConfigFacts& config,
                             std::string arch, core::Duration requestTimeout)
    : api_(api), config_(config), arch_(std::move(arch)), timeout_(requestTimeout) {}

NodeRegistrar::~NodeRegistrar() { *alive_ = false; }

kubeapi::Request NodeRegistrar::request(std::string method, std::string path, std::string body,
                                        const char* contentType) const {
  kubeapi::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  r.contentType = contentType;
  r.timeout = timeout_;
  return r;
}

void NodeRegistrar::tryRegister(const NodeStatus& status, Done done) {
  kubeapi::Request req =
      request("POST", "/api/v1/nodes", initialNodeJson(config_, arch_, status).dump());
  std::weak_ptr<bool> alive = alive_;
  api_.send(req, [this, alive, req, done = std::move(done)](kubeapi::Response resp) {
    if (alive.expired()) return;
    if (resp.ok()) {
      LOG_INFO << "registered node " << config_.nodeName;
      done(uidFromBody(resp.body, "POST /api/v1/nodes"));
      return;
    }
    if (resp.transport.ok() && resp.code == 409) {
      adopt(std::move(done));
      return;
    }
    done(responseError(req, resp));
  });
}

void NodeRegistrar::adopt(Done done) {
  kubeapi::Request get = request("GET", nodePath(config_.nodeName));
  std::weak_ptr<bool> alive = alive_;
  api_.send(get, [this, alive, get, done = std::move(done)](kubeapi::Response resp) {
    if (alive.expired()) return;
    if (!resp.ok()) {
      done(responseError(get, resp));
      return;
    }
    auto meta = metaFromBody(resp.body, "GET " + get.path);
    if (!meta.ok()) {
      done(meta.status());
      return;
    }
    LOG_INFO << "node " << config_.nodeName << " was previously registered (uid " << meta->uid
             << ")";
    auto patch = reconcileExistingNode(config_, arch_, *meta);
    if (!patch) {
      done(meta->uid);
      return;
    }
    // Upstream patches the status subresource (nodeutil.PatchNodeStatus); the API
    // server takes metadata from it and drops only spec changes.
    kubeapi::Request req = request("PATCH", nodePath(config_.nodeName) + "/status", patch->dump(),
                                   kubeapi::kStrategicMergePatch);
    api_.send(req, [this, alive, req, done = std::move(done)](kubeapi::Response presp) {
      if (alive.expired()) return;
      if (!presp.ok()) {
        done(responseError(req, presp));
        return;
      }
      LOG_INFO << "reconciled the labels and annotations of node " << config_.nodeName;
      done(uidFromBody(presp.body, "PATCH " + req.path));
    });
  });
}

}  // namespace agent::node
