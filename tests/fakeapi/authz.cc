#include "tests/fakeapi/authz.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cubelet::fakeapi {
namespace {

constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

bool inGroup(const UserInfo& u, std::string_view g) {
  return std::find(u.groups.begin(), u.groups.end(), g) != u.groups.end();
}

// An RBAC PolicyRule without resourceNames: "resource" or "resource/subresource".
struct Rule {
  std::vector<std::string> verbs;
  std::vector<std::string> groups;
  std::vector<std::string> resources;
};

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end() ||
         std::find(v.begin(), v.end(), "*") != v.end();
}

bool rulesAllow(const RequestAttributes& a, const std::vector<Rule>& rules) {
  std::string res = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  for (const auto& r : rules) {
    if (has(r.verbs, a.verb) && has(r.groups, a.apiGroup) && has(r.resources, res)) return true;
  }
  return false;
}

// The system:node ClusterRole of Kubernetes 1.32 (bootstrappolicy.NodeRules), used
// by the Node authorizer for resources it does not subdivide.
const std::vector<Rule>& nodeRules() {
  static const std::vector<Rule> rules = {
      {{"create"}, {"authentication.k8s.io"}, {"tokenreviews"}},
      {{"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews", "localsubjectaccessreviews"}},
      {{"get", "list", "watch"}, {""}, {"services"}},
      {{"create", "get", "list", "watch"}, {""}, {"nodes"}},
      {{"update", "patch"}, {""}, {"nodes/status"}},
      {{"update", "patch"}, {""}, {"nodes"}},
      {{"create", "update", "patch"}, {""}, {"events"}},
      {{"get", "list", "watch"}, {""}, {"pods"}},
      {{"create", "delete"}, {""}, {"pods"}},
      {{"update", "patch"}, {""}, {"pods/status"}},
      {{"create"}, {""}, {"pods/eviction"}},
      {{"get", "list", "watch"}, {""}, {"configmaps", "secrets"}},
      {{"get"}, {""}, {"persistentvolumeclaims", "persistentvolumes"}},
      {{"get"}, {""}, {"endpoints"}},
      {{"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"}},
      {{"get", "create", "update", "patch", "delete"}, {"coordination.k8s.io"}, {"leases"}},
      {{"get"}, {"storage.k8s.io"}, {"volumeattachments"}},
      {{"create"}, {""}, {"serviceaccounts/token"}},
      {{"get", "update", "patch"}, {""}, {"persistentvolumeclaims/status"}},
      {{"get", "watch", "list"}, {"storage.k8s.io"}, {"csidrivers"}},
      {{"get", "create", "update", "patch", "delete"}, {"storage.k8s.io"}, {"csinodes"}},
      {{"get", "list", "watch"}, {"node.k8s.io"}, {"runtimeclasses"}},
  };
  return rules;
}

// RBAC bindings of a kubeadm cluster for the non-admin groups the tests use.
const std::vector<Rule>& authenticatedRules() {  // system:basic-user
  static const std::vector<Rule> rules = {
      {{"create"},
       {"authorization.k8s.io"},
       {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
      {{"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"}},
  };
  return rules;
}
const std::vector<Rule>& bootstrapperRules() {  // system:node-bootstrapper + nodeclient
  static const std::vector<Rule> rules = {
      {{"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"}},
      {{"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"}},
  };
  return rules;
}
const std::vector<Rule>& nodesGroupRules() {  // kubeadm:node-autoapprove-certificate-rotation
  static const std::vector<Rule> rules = {
      {{"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"}},
  };
  return rules;
}

bool isBootstrapper(const UserInfo& u) {
  return inGroup(u, "system:bootstrappers") ||
         inGroup(u, "system:bootstrappers:kubeadm:default-node-token");
}

struct Verdict {
  bool allow = false;
  std::string reason;
};
Verdict allow() { return {true, ""}; }
Verdict noOpinion(std::string reason = "") { return {false, std::move(reason)}; }

// The Node authorizer for one node; mirrors node_authorizer.go's structure so the
// reasons match.
class NodeAuthorizer {
 public:
  NodeAuthorizer(const std::string& node, const RequestAttributes& a, const std::string& name,
                 const AuthzGraph& g)
      : node_(node), a_(a), name_(name), g_(g) {}

  // Nothing when the request is not subdivided (the static rules decide).
  std::optional<Verdict> subdivided() const {
    const std::string& grp = a_.apiGroup;
    const std::string& res = a_.resource;
    if (grp == "") {
      if (res == "secrets" || res == "configmaps") return readNamespacedObject();
      if (res == "persistentvolumeclaims") {
        return a_.subresource == "status" ? statusUpdate() : get();
      }
      if (res == "persistentvolumes") return get();
      if (res == "serviceaccounts") return createToken();
      if (res == "nodes") return authorizeNode();
      if (res == "pods") return authorizePod();
    } else if (grp == "coordination.k8s.io" && res == "leases") {
      return authorizeLease();
    } else if (grp == "storage.k8s.io" && res == "volumeattachments") {
      return get();
    } else if (grp == "storage.k8s.io" && res == "csinodes") {
      return authorizeCSINode();
    }
    return std::nullopt;
  }

 private:
  std::string noRelationship() const {
    return absl::StrCat("no relationship found between node '", node_, "' and this object");
  }

  bool hasPath() const {
    if (a_.apiGroup == "" && a_.resource == "pods") {
      auto bound = g_.podNodeName(a_.namespace_, name_);
      return bound.has_value() && *bound == node_;
    }
    return g_.nodeReferences(node_, a_.resource, a_.namespace_, name_);
  }

  Verdict related() const {
    if (name_.empty()) return noOpinion("No Object name found");
    return hasPath() ? allow() : noOpinion(noRelationship());
  }

  Verdict statusUpdate() const {
    if (a_.verb != "update" && a_.verb != "patch") {
      return noOpinion("can only get/update/patch this type");
    }
    if (a_.subresource != "status") return noOpinion("can only update status subresource");
    return related();
  }

  Verdict get() const {
    if (a_.verb != "get") return noOpinion("can only get individual resources of this type");
    if (!a_.subresource.empty()) return noOpinion("cannot get subresource");
    return related();
  }

  Verdict readNamespacedObject() const {
    if (a_.verb != "get" && a_.verb != "list" && a_.verb != "watch") {
      return noOpinion("can only read resources of this type");
    }
    if (!a_.subresource.empty()) return noOpinion("cannot read subresource");
    if (a_.namespace_.empty()) return noOpinion("can only read namespaced object of this type");
    return related();
  }

  Verdict createToken() const {
    if (a_.verb != "create" || name_.empty()) {
      return noOpinion("can only create tokens for individual service accounts");
    }
    if (a_.subresource != "token") {
      return noOpinion("can only create token subresource of serviceaccount");
    }
    return hasPath() ? allow() : noOpinion(noRelationship());
  }

  Verdict authorizeLease() const {
    const std::string& v = a_.verb;
    if (v != "get" && v != "create" && v != "update" && v != "patch" && v != "delete") {
      return noOpinion("can only get, create, update, patch, or delete a node lease");
    }
    if (a_.namespace_ != kNodeLeaseNamespace) {
      return noOpinion(absl::StrCat("can only access leases in the \"", kNodeLeaseNamespace,
                                    "\" system namespace"));
    }
    // On create the authorizer does not know the name; NodeRestriction checks it.
    if (v != "create" && name_ != node_) {
      return noOpinion("can only access node lease with the same name as the requesting node");
    }
    return allow();
  }

  Verdict authorizeCSINode() const {
    const std::string& v = a_.verb;
    if (v != "get" && v != "create" && v != "update" && v != "patch" && v != "delete") {
      return noOpinion("can only get, create, update, patch, or delete a CSINode");
    }
    if (!a_.subresource.empty()) return noOpinion("cannot authorize CSINode subresources");
    if (v != "create" && name_ != node_) {
      return noOpinion("can only access CSINode with the same name as the requesting node");
    }
    return allow();
  }

  Verdict authorizeNode() const {
    const std::string& v = a_.verb;
    if (a_.subresource.empty()) {
      // Create/update/patch of any name: NodeRestriction limits them to the own Node.
      if (v == "create" || v == "update" || v == "patch") return allow();
      if (v == "get" || v == "list" || v == "watch") {
        if (name_ == node_) return allow();
        if (name_.empty()) {
          return noOpinion(
              absl::StrCat("node '", node_, "' cannot read all nodes, only its own Node object"));
        }
        return noOpinion(
            absl::StrCat("node '", node_, "' cannot read '", name_, "', only its own Node object"));
      }
    } else if (a_.subresource == "status" && (v == "update" || v == "patch")) {
      return allow();
    }
    return noOpinion();
  }

  Verdict authorizePod() const {
    const std::string& v = a_.verb;
    if (a_.subresource.empty()) {
      if (v == "get") return get();
      if (v == "list" || v == "watch") {
        auto bound = fieldSelectorExactMatch(a_.fieldSelector, "spec.nodeName");
        if (bound && *bound == node_) return allow();
        if (!name_.empty()) return related();
        return noOpinion("can only list/watch pods with spec.nodeName field selector");
      }
      // Mirror pods; NodeRestriction limits them to pods bound to this node.
      if (v == "create" || v == "delete") return allow();
    } else if (a_.subresource == "status") {
      if (v == "update" || v == "patch") return allow();
    } else if (a_.subresource == "eviction") {
      if (v == "create") return allow();
    }
    return noOpinion();
  }

  const std::string& node_;
  const RequestAttributes& a_;
  const std::string& name_;
  const AuthzGraph& g_;
};

// A path segment the API server accepts as a name (path.IsValidPathSegmentName).
bool validPathSegmentName(const std::string& s) {
  return s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('%') == std::string::npos;
}

}  // namespace

std::optional<std::string> nodeIdentity(const UserInfo& u) {
  constexpr std::string_view kPrefix = "system:node:";
  if (!inGroup(u, "system:nodes")) return std::nullopt;
  if (u.name.rfind(kPrefix, 0) != 0) return std::nullopt;
  return u.name.substr(kPrefix.size());
}

std::optional<std::string> fieldSelectorExactMatch(const std::string& selector,
                                                   const std::string& field) {
  // Split on unescaped commas, then each term on its first unescaped operator.
  std::vector<std::string> terms;
  std::string cur;
  for (size_t i = 0; i < selector.size(); ++i) {
    char c = selector[i];
    if (c == '\\' && i + 1 < selector.size()) {
      cur += c;
      cur += selector[++i];
    } else if (c == ',') {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  terms.push_back(cur);
  auto unescape = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i];
    }
    return out;
  };
  for (const auto& t : terms) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\\') {
        ++i;
        continue;
      }
      if (t[i] == '!' && i + 1 < t.size() && t[i + 1] == '=') break;  // != never matches exactly
      if (t[i] == '=') {
        size_t valueAt = (i + 1 < t.size() && t[i + 1] == '=') ? i + 2 : i + 1;
        if (unescape(std::string_view(t).substr(0, i)) == field) {
          return unescape(std::string_view(t).substr(valueAt));
        }
        break;
      }
    }
  }
  return std::nullopt;
}

Decision authorize(const RequestAttributes& a, const AuthzGraph& g) {
  const UserInfo& u = a.user;
  if (inGroup(u, "system:masters")) return {true, ""};

  // Non-resource URLs: system:discovery and system:public-info-viewer.
  if (a.resource.empty()) return {a.verb == "get", ""};

  // The API server's RequestInfo takes a list/watch's name from an exact
  // metadata.name field selector.
  std::string name = a.name;
  if (name.empty() && (a.verb == "list" || a.verb == "watch")) {
    if (auto n = fieldSelectorExactMatch(a.fieldSelector, "metadata.name");
        n && validPathSegmentName(*n)) {
      name = *n;
    }
  }

  std::string reason;
  if (auto node = nodeIdentity(u); node && node->empty()) {
    reason = absl::StrCat("unknown node for user \"", u.name, "\"");
  } else if (node) {
    RequestAttributes named = a;
    named.name = name;
    NodeAuthorizer na(*node, named, name, g);
    if (auto v = na.subdivided()) {
      if (v->allow) return {true, ""};
      reason = v->reason;
    } else if (rulesAllow(named, nodeRules())) {
      return {true, ""};
    }
  }

  // RBAC, after the Node authorizer had no opinion.
  if (rulesAllow(a, authenticatedRules())) return {true, ""};
  if (isBootstrapper(u) && rulesAllow(a, bootstrapperRules())) return {true, ""};
  if (inGroup(u, "system:nodes") && rulesAllow(a, nodesGroupRules())) return {true, ""};
  return {false, reason};
}

}  // namespace cubelet::fakeapi
