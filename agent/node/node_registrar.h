// One registration attempt of the Node, as the kubelet's tryRegisterWithAPIServer:
// POST /api/v1/nodes; when it already exists (409 AlreadyExists), GET it and adopt it,
// reconciling the kubelet-owned labels and the attach-detach annotation with a
// strategic merge PATCH of nodes/<name>/status when they differ. The caller
// (NodeStatusManager) retries with backoff until an attempt succeeds.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/kubeapi/api_client.h"
#include "agent/node/node_object.h"

namespace agent::node {

class NodeRegistrar {
 public:
  using Done = std::function<void(absl::StatusOr<std::string> nodeUid)>;

  NodeRegistrar(kubeapi::ApiClient& api, const NodeConfigFacts& config, std::string arch,
                core::Duration requestTimeout);
  ~NodeRegistrar();
  NodeRegistrar(const NodeRegistrar&) = delete;
  NodeRegistrar& operator=(const NodeRegistrar&) = delete;

  // Registers (or adopts) the Node with `status` as its initial status. `done` runs
  // on the loop with the Node's UID, or the error of the step that failed. At most
  // one attempt at a time; `done` never runs after the registrar is destroyed.
  void tryRegister(const NodeStatus& status, Done done);

 private:
  void adopt(Done done);
  kubeapi::Request request(std::string method, std::string path, std::string body = "",
                           const char* contentType = kubeapi::kJson) const;

  kubeapi::ApiClient& api_;
  const NodeConfigFacts& config_;
  std::string arch_;
  core::Duration timeout_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// "/api/v1/nodes/<name>".
std::string nodePath(const std::string& nodeName);

// The metadata.uid of an object in a JSON response body; an error naming `what` when
// the body is not such an object.
absl::StatusOr<std::string> uidFromBody(const std::string& body, const std::string& what);

}  // namespace agent::node
