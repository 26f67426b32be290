// Label and field selector parsing and matching.
#include "tests/fakeapi/selectors.h"

#include "gtest/gtest.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/resources.h"
#include "tests/unit/fakeapi/fake_api_fixture.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

TEST(LabelSelectorTest, MatchesLikeUpstream) {
  const json labels = {{"app", "web"}, {"tier", "front"}, {"n", "5"}};
  struct Case {
    std::string sel;
    bool match;
  } cases[] = {
      {"", true},
      {"app=web", true},
      {"app==web", true},
      {"app!=web", false},
      {"app!=db", true},
      {"missing!=x", true},
      {"app in (web,db)", true},
      {"app in (db)", false},
      {"app notin (db, cache)", true},
      {"missing notin (a)", true},
      {"app", true},
      {"!app", false},
      {"!missing", true},
      {"app=web,tier=back", false},
      {"app=web, tier=front", true},
      {"n>3", true},
      {"n<3", false},
      {"example.com/role", false},
  };
  for (const auto& c : cases) {
    auto s = LabelSelector::parse(c.sel);
    ASSERT_TRUE(s.ok()) << c.sel << ": " << s.status();
    EXPECT_EQ(s->matches(labels), c.match) << c.sel;
  }
}

TEST(LabelSelectorTest, RejectsBadSyntaxAsBadRequest) {
  for (const char* bad :
       {"app=", "=web", "app in web", "app in (a", "a b", "app=web,", "n>x", "a=(b)"}) {
    auto s = LabelSelector::parse(bad);
    if (std::string(bad) == "app=") {  // `k=` selects the empty value, as upstream
      EXPECT_TRUE(s.ok()) << bad;
      continue;
    }
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(httpCode(s.status()), 400) << bad;
    EXPECT_EQ(statusReason(s.status()), "BadRequest");
  }
}

TEST(FieldSelectorTest, PodFields) {
  const ResourceInfo& pods = *findResource("", "v1", "pods");
  const json pod = {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
                    {"spec", {{"nodeName", "n1"}, {"restartPolicy", "Always"}}},
                    {"status", {{"phase", "Running"}}}};
  struct Case {
    std::string sel;
    bool match;
  } cases[] = {
      {"spec.nodeName=n1", true},
      {"spec.nodeName==n1", true},
      {"spec.nodeName!=n1", false},
      {"spec.nodeName=n2", false},
      {"metadata.name=p,metadata.namespace=default", true},
      {"status.phase!=Succeeded,status.phase!=Failed", true},
      {"spec.restartPolicy=Never", false},
      {"spec.schedulerName=", true},  // unset fields select as ""
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::parse(c.sel, pods);
    ASSERT_TRUE(s.ok()) << c.sel << ": " << s.status();
    EXPECT_EQ(s->matches(pod), c.match) << c.sel;
  }
  auto s = FieldSelector::parse("spec.nodeName=n1", pods);
  EXPECT_EQ(s->requiredValue("spec.nodeName"), "n1");
  EXPECT_EQ(s->requiredValue("metadata.name"), std::nullopt);
}

TEST(FieldSelectorTest, EventFieldsAndErrors) {
  const ResourceInfo& events = *findResource("", "v1", "events");
  const json ev = {{"involvedObject", {{"kind", "Pod"}, {"name", "p1"}, {"uid", "u1"}}},
                   {"source", {{"component", "kubelet"}}}};
  EXPECT_TRUE(
      FieldSelector::parse("involvedObject.name=p1,involvedObject.kind=Pod", events)->matches(ev));
  EXPECT_TRUE(FieldSelector::parse("source=kubelet", events)->matches(ev));

  auto bad = FieldSelector::parse("spec.nodeName=n1", *findResource("", "v1", "configmaps"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(httpCode(bad.status()), 400);
  EXPECT_EQ(bad.status().message(), "field label not supported: spec.nodeName");
  EXPECT_FALSE(FieldSelector::parse("justaword", events).ok());
}

using testing::FakeApiTest;
using testing::kPods;

TEST_F(FakeApiTest, SelectorsOnListsAndTheirErrors) {
  ASSERT_TRUE(server_->create(kPods, pod("a", "n1")).ok());
  ASSERT_TRUE(server_->create(kPods, pod("b", "n2")).ok());
  json other = pod("c", "n1");
  other["metadata"]["labels"]["app"] = "db";
  ASSERT_TRUE(server_->create(kPods, other).ok());

  auto names = [&](const std::string& q) {
    std::vector<std::string> out;
    auto r = admin_->get(std::string(kPods) + "?" + q);
    EXPECT_EQ(r.code, 200) << r.body;
    json body = r.json();
    for (const auto& i : body["items"]) {
      out.push_back(i["metadata"]["name"]);
    }
    return out;
  };
  EXPECT_EQ(names("fieldSelector=spec.nodeName%3Dn1"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(names("fieldSelector=spec.nodeName%3Dn1&labelSelector=app%3Dweb"),
            (std::vector<std::string>{"a"}));
  EXPECT_EQ(names("labelSelector=app+in+%28db%29"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(names("fieldSelector=metadata.name%3Db"), (std::vector<std::string>{"b"}));

  auto bad = admin_->get(std::string(kPods) + "?fieldSelector=spec.bogus%3Dx");
  EXPECT_EQ(bad.code, 400);
  EXPECT_EQ(bad.json()["reason"], "BadRequest");
  EXPECT_EQ(bad.json()["message"], "field label not supported: spec.bogus");
  EXPECT_EQ(admin_->get(std::string(kPods) + "?labelSelector=a+in+b").code, 400);
}

}  // namespace
}  // namespace cubelet::fakeapi
