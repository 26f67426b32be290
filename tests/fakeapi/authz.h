// Authorization and NodeRestriction admission for the fake API server, as a
// kubeadm cluster runs them (--authorization-mode=Node,RBAC, NodeRestriction on),
// for the identities the tests use:
//  - group system:masters: everything (cluster-admin);
//  - a node (user system:node:<n> in group system:nodes): the Node authorizer of
//    Kubernetes 1.32 with AuthorizeNodeWithSelectors (own Node, pods bound to it,
//    objects its pods reference, its Lease) plus the static system:node rules;
//  - group system:bootstrappers: CSRs only (kubeadm's system:node-bootstrapper
//    binding, plus nodeclient for auto-approval);
//  - every authenticated user: discovery and self reviews.
// Denial reasons are the upstream authorizers' own texts.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tests/fakeapi/authn.h"

namespace cubelet::fakeapi {

struct RequestAttributes {
  UserInfo user;
  // get list watch create update patch delete deletecollection. A non-resource
  // request (/version, /api, /healthz) has an empty `resource`.
  std::string verb;
  std::string apiGroup, resource, subresource, namespace_, name;
  // Decoded query values. For list/watch with an exact metadata.name in the field
  // selector and no `name`, authorize() uses that name (as the API server's
  // RequestInfo does).
  std::string fieldSelector, labelSelector;
};

class AuthzGraph {  // implemented by the store
 public:
  virtual ~AuthzGraph() = default;
  // True when a pod bound to `node` references the object (configmaps, secrets,
  // persistentvolumeclaims, serviceaccounts; persistentvolumes and
  // volumeattachments with an empty namespace).
  virtual bool nodeReferences(const std::string& node, const std::string& resource,
                              const std::string& ns, const std::string& name) const = 0;
  // spec.nodeName of an existing pod ("" when unbound); nothing when no such pod.
  virtual std::optional<std::string> podNodeName(const std::string& ns,
                                                 const std::string& name) const = 0;
};

struct Decision {
  bool allowed = false;
  // Why not, when the upstream authorizer says why (empty otherwise, as upstream);
  // appended after "...cannot <verb> resource ...: " in the 403 message.
  std::string reason;
};

Decision authorize(const RequestAttributes& a, const AuthzGraph& g);

// The node name of a node identity (user "system:node:<n>" in group
// "system:nodes"); nothing for other users.
std::optional<std::string> nodeIdentity(const UserInfo& u);

// The value `field` must equal under `selector` ("a=b,c==d,e!=f", with \ escapes);
// nothing when no term requires an exact match of `field`.
std::optional<std::string> fieldSelectorExactMatch(const std::string& selector,
                                                   const std::string& field);

// NodeRestriction admission for writes (create, update, patch, delete) by node
// identities; OK for other users and for reads. `oldObj` is the stored object
// (update/patch/delete, and for pods/eviction the pod being evicted, for
// serviceaccounts/token the pod named by spec.boundObjectRef), `newObj` the object
// as it would be stored (create/update/patch; for pods/eviction the Eviction, for
// serviceaccounts/token the TokenRequest); either may be null. A refusal is
// PermissionDenied with upstream's message (the caller prefixes
// `<resource> "<name>" is forbidden: `), a missing pod NotFound. Not checked here:
// the Node UID in a mirror pod's owner reference.
absl::Status admitNodeWrite(const RequestAttributes& a, const nlohmann::json* oldObj,
                            const nlohmann::json* newObj);

}  // namespace cubelet::fakeapi
