#include "tests/fakeapi/authz.h"

#include <map>
#include <set>
#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Pods p1 (on n1), p2 (on n2), pending (unbound) in default; pod p1 references
// configmap cm1, secret s1, pvc claim1 and service account sa1.
class FakeGraph : public AuthzGraph {
 public:
  bool nodeReferences(const std::string& node, const std::string& resource, const std::string& ns,
                      const std::string& name) const override {
    return refs_.count({node, resource, ns, name}) > 0;
  }
  std::optional<std::string> podNodeName(const std::string& ns,
                                         const std::string& name) const override {
    auto it = pods_.find({ns, name});
    if (it == pods_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::set<std::tuple<std::string, std::string, std::string, std::string>> refs_ = {
      {"n1", "configmaps", "default", "cm1"},
      {"n1", "secrets", "default", "s1"},
      {"n1", "persistentvolumeclaims", "default", "claim1"},
      {"n1", "serviceaccounts", "default", "sa1"},
      {"n2", "configmaps", "default", "cm2"},
  };
  std::map<std::pair<std::string, std::string>, std::string> pods_ = {
      {{"default", "p1"}, "n1"}, {{"default", "p2"}, "n2"}, {{"default", "pending"}, ""}};
};

UserInfo node1() { return {"system:node:n1", {"system:nodes", "system:authenticated"}}; }
UserInfo admin() { return {"admin", {"system:masters", "system:authenticated"}}; }
UserInfo bootstrap() {
  return {"system:bootstrap:abcdef", {"system:bootstrappers", "system:authenticated"}};
}
UserInfo plainUser() { return {"alice", {"system:authenticated"}}; }

struct Case {
  std::string name;
  UserInfo user;
  std::string verb, group, resource, sub, ns, obj, fieldSelector;
  bool allowed;
  std::string reason;  // substring expected in the reason (denied cases)
};

TEST(Authorize, Table) {
  FakeGraph g;
  const std::string noRel = "no relationship found between node 'n1' and this object";
  const std::vector<Case> cases = {
      // Cluster admin.
      {"admin anything", admin(), "delete", "", "nodes", "", "", "n2", "", true, ""},
      {"admin list secrets", admin(), "list", "", "secrets", "", "", "", "", true, ""},
      // Bootstrap token: CSRs only.
      {"boot create csr", bootstrap(), "create", "certificates.k8s.io",
       "certificatesigningrequests", "", "", "", "", true, ""},
      {"boot watch csr", bootstrap(), "watch", "certificates.k8s.io", "certificatesigningrequests",
       "", "", "", "metadata.name=csr-abc", true, ""},
      {"boot get csr", bootstrap(), "get", "certificates.k8s.io", "certificatesigningrequests", "",
       "", "csr-abc", "", true, ""},
      {"boot delete csr", bootstrap(), "delete", "certificates.k8s.io",
       "certificatesigningrequests", "", "", "csr-abc", "", false, ""},
      {"boot get node", bootstrap(), "get", "", "nodes", "", "", "n1", "", false, ""},
      {"boot list pods", bootstrap(), "list", "", "pods", "", "", "", "", false, ""},
      // Other users: discovery only.
      {"user discovery", plainUser(), "get", "", "", "", "", "", "", true, ""},
      {"user get pod", plainUser(), "get", "", "pods", "", "default", "p1", "", false, ""},
      {"user self review", plainUser(), "create", "authorization.k8s.io",
       "selfsubjectaccessreviews", "", "", "", "", true, ""},
      // A system:node: name without the system:nodes group is not a node.
      {"fake node",
       {"system:node:n1", {"system:authenticated"}},
       "get",
       "",
       "nodes",
       "",
       "",
       "n1",
       "",
       false,
       ""},
      {"node without name",
       {"system:node:", {"system:nodes"}},
       "get",
       "",
       "nodes",
       "",
       "",
       "n1",
       "",
       false,
       "unknown node for user \"system:node:\""},

      // Nodes.
      {"get own node", node1(), "get", "", "nodes", "", "", "n1", "", true, ""},
      {"get other node", node1(), "get", "", "nodes", "", "", "n2", "", false,
       "node 'n1' cannot read 'n2', only its own Node object"},
      {"list all nodes", node1(), "list", "", "nodes", "", "", "", "", false,
       "node 'n1' cannot read all nodes, only its own Node object"},
      {"watch own node by selector", node1(), "watch", "", "nodes", "", "", "", "metadata.name=n1",
       true, ""},
      {"watch other node by selector", node1(), "watch", "", "nodes", "", "", "",
       "metadata.name=n2", false, "cannot read 'n2'"},
      {"create any node", node1(), "create", "", "nodes", "", "", "", "", true, ""},
      {"patch own node status", node1(), "patch", "", "nodes", "status", "", "n1", "", true, ""},
      {"update node", node1(), "update", "", "nodes", "", "", "n1", "", true, ""},
      {"delete own node", node1(), "delete", "", "nodes", "", "", "n1", "", false, ""},
      {"get node status", node1(), "get", "", "nodes", "status", "", "n1", "", false, ""},

      // Pods.
      {"list own pods", node1(), "list", "", "pods", "", "", "", "spec.nodeName=n1", true, ""},
      {"watch own pods with more terms", node1(), "watch", "", "pods", "", "", "",
       "metadata.namespace!=x,spec.nodeName==n1", true, ""},
      {"list other node's pods", node1(), "list", "", "pods", "", "", "", "spec.nodeName=n2", false,
       "can only list/watch pods with spec.nodeName field selector"},
      {"list all pods", node1(), "list", "", "pods", "", "", "", "", false,
       "can only list/watch pods with spec.nodeName field selector"},
      {"list pods not-equal", node1(), "list", "", "pods", "", "", "", "spec.nodeName!=n1", false,
       "spec.nodeName field selector"},
      {"get bound pod", node1(), "get", "", "pods", "", "default", "p1", "", true, ""},
      {"get other's pod", node1(), "get", "", "pods", "", "default", "p2", "", false, noRel},
      {"get unbound pod", node1(), "get", "", "pods", "", "default", "pending", "", false, noRel},
      {"get pod log", node1(), "get", "", "pods", "log", "default", "p1", "", false, ""},
      {"create mirror pod", node1(), "create", "", "pods", "", "default", "", "", true, ""},
      {"delete pod", node1(), "delete", "", "pods", "", "default", "p1", "", true, ""},
      {"update pod", node1(), "update", "", "pods", "", "default", "p1", "", false, ""},
      {"patch pod status", node1(), "patch", "", "pods", "status", "default", "p1", "", true, ""},
      {"evict pod", node1(), "create", "", "pods", "eviction", "default", "p1", "", true, ""},

      // ConfigMaps and Secrets through the graph.
      {"get referenced cm", node1(), "get", "", "configmaps", "", "default", "cm1", "", true, ""},
      {"watch referenced cm", node1(), "watch", "", "configmaps", "", "default", "",
       "metadata.name=cm1", true, ""},
      {"list referenced secret", node1(), "list", "", "secrets", "", "default", "",
       "metadata.name=s1", true, ""},
      {"get unreferenced cm", node1(), "get", "", "configmaps", "", "default", "cm2", "", false,
       noRel},
      {"list all cms", node1(), "list", "", "configmaps", "", "default", "", "", false,
       "No Object name found"},
      {"list cms cluster-wide", node1(), "list", "", "configmaps", "", "", "", "metadata.name=cm1",
       false, "can only read namespaced object of this type"},
      {"update cm", node1(), "update", "", "configmaps", "", "default", "cm1", "", false,
       "can only read resources of this type"},
      {"get pvc", node1(), "get", "", "persistentvolumeclaims", "", "default", "claim1", "", true,
       ""},
      {"list pvcs", node1(), "list", "", "persistentvolumeclaims", "", "default", "",
       "metadata.name=claim1", false, "can only get individual resources of this type"},
      {"sa token", node1(), "create", "", "serviceaccounts", "token", "default", "sa1", "", true,
       ""},
      {"sa token unrelated", node1(), "create", "", "serviceaccounts", "token", "default",
       "default", "", false, noRel},
      {"get sa", node1(), "get", "", "serviceaccounts", "", "default", "sa1", "", false,
       "can only create tokens for individual service accounts"},

      // Leases.
      {"get own lease", node1(), "get", "coordination.k8s.io", "leases", "", "kube-node-lease",
       "n1", "", true, ""},
      {"create lease", node1(), "create", "coordination.k8s.io", "leases", "", "kube-node-lease",
       "", "", true, ""},
      {"update other lease", node1(), "update", "coordination.k8s.io", "leases", "",
       "kube-node-lease", "n2", "", false,
       "can only access node lease with the same name as the requesting node"},
      {"lease elsewhere", node1(), "get", "coordination.k8s.io", "leases", "", "kube-system", "n1",
       "", false, "can only access leases in the \"kube-node-lease\" system namespace"},
      {"watch leases", node1(), "watch", "coordination.k8s.io", "leases", "", "kube-node-lease", "",
       "metadata.name=n1", false, "can only get, create, update, patch, or delete a node lease"},

      // Static system:node rules.
      {"list services", node1(), "list", "", "services", "", "", "", "", true, ""},
      {"watch services", node1(), "watch", "", "services", "", "", "", "", true, ""},
      {"create service", node1(), "create", "", "services", "", "default", "", "", false, ""},
      {"get endpoints", node1(), "get", "", "endpoints", "", "default", "kubernetes", "", true, ""},
      {"list endpoints", node1(), "list", "", "endpoints", "", "default", "", "", false, ""},
      {"create event", node1(), "create", "", "events", "", "default", "", "", true, ""},
      {"patch event", node1(), "patch", "", "events", "", "default", "e1", "", true, ""},
      {"delete event", node1(), "delete", "", "events", "", "default", "e1", "", false, ""},
      {"events.k8s.io event", node1(), "create", "events.k8s.io", "events", "", "default", "", "",
       false, ""},
      {"create csr", node1(), "create", "certificates.k8s.io", "certificatesigningrequests", "", "",
       "", "", true, ""},
      {"watch csr", node1(), "watch", "certificates.k8s.io", "certificatesigningrequests", "", "",
       "", "metadata.name=csr-1", true, ""},
      {"selfnodeclient", node1(), "create", "certificates.k8s.io", "certificatesigningrequests",
       "selfnodeclient", "", "", "", true, ""},
      {"tokenreview", node1(), "create", "authentication.k8s.io", "tokenreviews", "", "", "", "",
       true, ""},
      {"sar", node1(), "create", "authorization.k8s.io", "subjectaccessreviews", "", "", "", "",
       true, ""},
      {"runtimeclasses", node1(), "list", "node.k8s.io", "runtimeclasses", "", "", "", "", true,
       ""},
      {"namespaces", node1(), "get", "", "namespaces", "", "", "default", "", false, ""},
      {"deployments", node1(), "list", "apps", "deployments", "", "", "", "", false, ""},
  };
  for (const auto& c : cases) {
    RequestAttributes a;
    a.user = c.user;
    a.verb = c.verb;
    a.apiGroup = c.group;
    a.resource = c.resource;
    a.subresource = c.sub;
    a.namespace_ = c.ns;
    a.name = c.obj;
    a.fieldSelector = c.fieldSelector;
    Decision d = authorize(a, g);
    EXPECT_EQ(d.allowed, c.allowed) << c.name << ": " << d.reason;
    if (!c.allowed && !c.reason.empty()) {
      EXPECT_THAT(d.reason, HasSubstr(c.reason)) << c.name;
    }
    if (c.allowed) {
      EXPECT_EQ(d.reason, "") << c.name;
    }
  }
}

TEST(FieldSelector, ExactMatch) {
  EXPECT_EQ(fieldSelectorExactMatch("spec.nodeName=n1", "spec.nodeName"), "n1");
  EXPECT_EQ(fieldSelectorExactMatch("a=b,spec.nodeName==n1", "spec.nodeName"), "n1");
  EXPECT_EQ(fieldSelectorExactMatch("metadata.name=a\\,b", "metadata.name"), "a,b");
  EXPECT_EQ(fieldSelectorExactMatch("spec.nodeName!=n1", "spec.nodeName"), std::nullopt);
  EXPECT_EQ(fieldSelectorExactMatch("", "spec.nodeName"), std::nullopt);
  EXPECT_EQ(fieldSelectorExactMatch("spec.nodeName=", "spec.nodeName"), "");
}

// --- NodeRestriction ---

RequestAttributes write(std::string verb, std::string resource, std::string sub, std::string ns,
                        std::string name, std::string group = "") {
  RequestAttributes a;
  a.user = node1();
  a.verb = std::move(verb);
  a.apiGroup = std::move(group);
  a.resource = std::move(resource);
  a.subresource = std::move(sub);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  return a;
}

json mirrorPod(const std::string& node) {
  return json{{"metadata",
               {{"name", "static-" + node},
                {"namespace", "default"},
                {"annotations", {{"kubernetes.io/config.mirror", "abc"}}},
                {"ownerReferences", json::array({{{"apiVersion", "v1"},
                                                  {"kind", "Node"},
                                                  {"name", node},
                                                  {"uid", "u1"},
                                                  {"controller", true}}})}}},
              {"spec", {{"nodeName", node}, {"containers", json::array({{{"name", "c"}}})}}}};
}

TEST(AdmitNodeWrite, Table) {
  json own = mirrorPod("n1");
  json other = mirrorPod("n2");
  json notMirror = own;
  notMirror["metadata"].erase("annotations");
  json noOwner = own;
  noOwner["metadata"].erase("ownerReferences");
  json withSecret = own;
  withSecret["spec"]["volumes"] = json::array({{{"name", "s"}, {"secret", {{"secretName", "x"}}}}});
  json withCmEnv = own;
  withCmEnv["spec"]["containers"][0]["env"] =
      json::array({{{"name", "A"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cm"}}}}}}});
  json withSa = own;
  withSa["spec"]["serviceAccountName"] = "default";

  json node = {{"metadata", {{"name", "n1"}, {"labels", {{"kubernetes.io/hostname", "n1"}}}}},
               {"spec", json::object()}};
  json nodeRestricted = node;
  nodeRestricted["metadata"]["labels"]["node-restriction.kubernetes.io/pool"] = "a";
  json nodeRole = node;
  nodeRole["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = "";
  json nodeAllowedNs = node;
  nodeAllowedNs["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] =
      "";
  nodeAllowedNs["metadata"]["labels"]["example.com/rack"] = "r1";
  json nodeTainted = node;
  nodeTainted["spec"]["taints"] = json::array({{{"key", "k"}, {"effect", "NoSchedule"}}});
  json nodeEmptyTaints = node;
  nodeEmptyTaints["spec"]["taints"] = json::array();

  json lease = {{"metadata", {{"name", "n1"}, {"namespace", "kube-node-lease"}}}};
  json lease2 = {{"metadata", {{"name", "n2"}, {"namespace", "kube-node-lease"}}}};
  json boundPod = {{"metadata", {{"name", "p1"}, {"uid", "pu1"}, {"labels", {{"a", "b"}}}}},
                   {"spec", {{"nodeName", "n1"}}}};
  json otherPod = {{"metadata", {{"name", "p2"}}}, {"spec", {{"nodeName", "n2"}}}};
  json relabelled = boundPod;
  relabelled["metadata"]["labels"]["a"] = "c";
  json tokenReq = {{"spec",
                    {{"boundObjectRef",
                      {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", "p1"}, {"uid", "pu1"}}}}}};
  json unboundTokenReq = {{"spec", json::object()}};

  struct Case {
    std::string name;
    RequestAttributes a;
    const json* oldObj;
    const json* newObj;
    std::string wantError;  // empty: admitted
  };
  const std::vector<Case> cases = {
      {"mirror pod", write("create", "pods", "", "default", ""), nullptr, &own, ""},
      {"mirror pod for other node", write("create", "pods", "", "default", ""), nullptr, &other,
       "node \"n1\" can only create pods with spec.nodeName set to itself"},
      {"not a mirror pod", write("create", "pods", "", "default", ""), nullptr, &notMirror,
       "pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create "
       "mirror pods"},
      {"mirror pod without owner", write("create", "pods", "", "default", ""), nullptr, &noOwner,
       "can only create pods with an owner reference set to itself"},
      {"mirror pod with secret", write("create", "pods", "", "default", ""), nullptr, &withSecret,
       "can not create pods that reference secrets"},
      {"mirror pod with configmap env", write("create", "pods", "", "default", ""), nullptr,
       &withCmEnv, "can not create pods that reference configmaps"},
      {"mirror pod with sa", write("create", "pods", "", "default", ""), nullptr, &withSa,
       "can not create pods that reference a service account"},
      {"delete bound pod", write("delete", "pods", "", "default", "p1"), &boundPod, nullptr, ""},
      {"delete other pod", write("delete", "pods", "", "default", "p2"), &otherPod, nullptr,
       "node \"n1\" can only delete pods with spec.nodeName set to itself"},
      {"update pod", write("update", "pods", "", "default", "p1"), &boundPod, &boundPod,
       "unexpected operation \"UPDATE\", node \"n1\" can only create and delete mirror pods"},
      {"status of bound pod", write("patch", "pods", "status", "default", "p1"), &boundPod,
       &boundPod, ""},
      {"status of other pod", write("update", "pods", "status", "default", "p2"), &otherPod,
       &otherPod, "can only update pod status for pods with spec.nodeName set to itself"},
      {"labels through status", write("patch", "pods", "status", "default", "p1"), &boundPod,
       &relabelled, "cannot update labels through pod status"},
      {"evict bound", write("create", "pods", "eviction", "default", "p1"), &boundPod, nullptr, ""},
      {"evict other", write("create", "pods", "eviction", "default", "p2"), &otherPod, nullptr,
       "node n1 can only evict pods with spec.nodeName set to itself"},
      {"pod binding", write("create", "pods", "binding", "default", "p1"), nullptr, nullptr,
       "unexpected pod subresource \"binding\""},
      {"create own node", write("create", "nodes", "", "", ""), nullptr, &node, ""},
      {"create other node", write("create", "nodes", "", "", ""), nullptr, &other,
       "node \"n1\" is not allowed to modify node \"static-n2\""},
      {"patch other node", write("patch", "nodes", "status", "", "n2"), &node, &node,
       "node \"n1\" is not allowed to modify node \"n2\""},
      {"register with restricted label", write("create", "nodes", "", "", ""), nullptr,
       &nodeRestricted,
       "node \"n1\" is not allowed to set the following labels: "
       "node-restriction.kubernetes.io/pool"},
      {"register with role label", write("create", "nodes", "", "", ""), nullptr, &nodeRole,
       "node-role.kubernetes.io/control-plane"},
      {"allowed label namespaces", write("create", "nodes", "", "", ""), nullptr, &nodeAllowedNs,
       ""},
      {"add restricted label", write("patch", "nodes", "", "", "n1"), &node, &nodeRestricted,
       "is not allowed to modify labels: node-restriction.kubernetes.io/pool"},
      {"status patch", write("patch", "nodes", "status", "", "n1"), &node, &node, ""},
      {"modify taints", write("update", "nodes", "", "", "n1"), &node, &nodeTainted,
       "node \"n1\" is not allowed to modify taints"},
      {"empty taints equal missing", write("update", "nodes", "", "", "n1"), &node,
       &nodeEmptyTaints, ""},
      {"create own lease",
       write("create", "leases", "", "kube-node-lease", "", "coordination.k8s.io"), nullptr, &lease,
       ""},
      {"create other lease",
       write("create", "leases", "", "kube-node-lease", "", "coordination.k8s.io"), nullptr,
       &lease2, "can only access node lease with the same name as the requesting node"},
      {"update own lease",
       write("update", "leases", "", "kube-node-lease", "n1", "coordination.k8s.io"), &lease,
       &lease, ""},
      {"token bound to own pod", write("create", "serviceaccounts", "token", "default", "sa1"),
       &boundPod, &tokenReq, ""},
      {"token bound to other pod", write("create", "serviceaccounts", "token", "default", "sa1"),
       &otherPod, &tokenReq, "node requested token bound to a pod scheduled on a different node"},
      {"unbound token", write("create", "serviceaccounts", "token", "default", "sa1"), nullptr,
       &unboundTokenReq, "node requested token not bound to a pod"},
      {"events untouched", write("create", "events", "", "default", ""), nullptr, &lease, ""},
  };
  for (const auto& c : cases) {
    absl::Status s = admitNodeWrite(c.a, c.oldObj, c.newObj);
    if (c.wantError.empty()) {
      EXPECT_TRUE(s.ok()) << c.name << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.name << ": " << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.wantError)) << c.name;
    }
  }
}

TEST(AdmitNodeWrite, OnlyNodesAreRestricted) {
  RequestAttributes a = write("delete", "pods", "", "default", "p2");
  a.user = admin();
  json otherPod = {{"spec", {{"nodeName", "n2"}}}};
  EXPECT_TRUE(admitNodeWrite(a, &otherPod, nullptr).ok());
  a.user = node1();
  EXPECT_EQ(admitNodeWrite(a, nullptr, nullptr).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cubelet::fakeapi
