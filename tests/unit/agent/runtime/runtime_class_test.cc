// RuntimeClass decoding and the runtime handler lookup (LookupRuntimeHandler).
#include "agent/runtime/runtime_class.h"

#include <gtest/gtest.h>

namespace agent::runtime {
namespace {

api::Pod podNaming(std::optional<std::string> rc) {
  api::Pod p;
  p.metadata.name = "p";
  p.spec.runtimeClassName = std::move(rc);
  return p;
}

std::shared_ptr<EnvSources> withApi(std::shared_ptr<const api::RuntimeClass> rc = nullptr) {
  auto s = std::make_shared<EnvSources>();
  s->apiAvailable = true;
  s->runtimeClass = std::move(rc);
  return s;
}

TEST(RuntimeClassTest, Decode) {
  auto rc = api::decodeRuntimeClass(nlohmann::json::parse(R"({
    "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
    "metadata": {"name": "kata", "resourceVersion": "7"},
    "handler": "kata-qemu",
    "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
    "scheduling": {"nodeSelector": {"kata": "true"}}})"));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->name, "kata");
  EXPECT_EQ(rc->handler, "kata-qemu");
  EXPECT_EQ(rc->overheadPodFixed.at("cpu").milliValue(), 250);

  auto noHandler = api::decodeRuntimeClass(nlohmann::json::parse(R"({"metadata": {"name": "x"}})"));
  ASSERT_FALSE(noHandler.ok());
  EXPECT_EQ(noHandler.status().message(), "handler: Required value");
  auto wrongGroup = api::decodeRuntimeClass(
      nlohmann::json::parse(R"({"apiVersion": "v1", "metadata": {"name": "x"}, "handler": "h"})"));
  ASSERT_FALSE(wrongGroup.ok());
  auto badOverhead = api::decodeRuntimeClass(nlohmann::json::parse(
      R"({"metadata": {"name": "x"}, "handler": "h", "overhead": {"podFixed": {"cpu": "1x"}}})"));
  ASSERT_FALSE(badOverhead.ok());
  EXPECT_NE(badOverhead.status().message().find("overhead.podFixed"), std::string::npos)
      << badOverhead.status();
}

TEST(RuntimeClassTest, LookupFindsTheHandler) {
  auto rc = std::make_shared<api::RuntimeClass>(api::RuntimeClass{"gvisor", "runsc", {}});
  auto s = withApi(rc);
  auto h = lookupRuntimeHandler(podNaming("gvisor"), s.get());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, "runsc");
}

TEST(RuntimeClassTest, NoRuntimeClassIsTheDefaultHandler) {
  auto s = withApi();
  EXPECT_EQ(*lookupRuntimeHandler(podNaming(std::nullopt), s.get()), "");
  EXPECT_EQ(*lookupRuntimeHandler(podNaming(""), s.get()), "");
}

TEST(RuntimeClassTest, MissingRuntimeClassIsNotFound) {
  auto s = withApi();
  auto h = lookupRuntimeHandler(podNaming("x"), s.get());
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(absl::IsNotFound(h.status()));
  EXPECT_EQ(h.status().message(), "runtimeclass.node.k8s.io \"x\" not found");
  // Another class in the snapshot does not answer for this name.
  auto other = withApi(std::make_shared<api::RuntimeClass>(api::RuntimeClass{"y", "h", {}}));
  EXPECT_FALSE(lookupRuntimeHandler(podNaming("x"), other.get()).ok());
}

TEST(RuntimeClassTest, WithoutAnApiServerTheNameIsNotLookedUp) {
  // The kubelet has no runtimeclass manager without a client: the default handler.
  EXPECT_EQ(*lookupRuntimeHandler(podNaming("x"), nullptr), "");
  EnvSources standalone;
  EXPECT_EQ(*lookupRuntimeHandler(podNaming("x"), &standalone), "");
}

}  // namespace
}  // namespace agent::runtime
