// Image GC against the fake CRI server (real gRPC): images used by any container,
// running or exited, stay; unused ones go and their sizes are counted; the
// sandbox image named in the runtime's verbose status is kept.
#include "agent/gc/image_gc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "tests/support/fake_cri_env.h"

namespace cubelet::testing {
namespace {

namespace v1 = ::runtime::v1;
using ::testing::UnorderedElementsAre;

std::vector<std::string> imageTags(cri::ImageService& images) {
  std::vector<std::string> out;
  auto list = images.listImages(v1::ImageFilter());
  EXPECT_TRUE(list.ok()) << list.status();
  for (const auto& i : *list) {
    for (const auto& t : i.repo_tags()) out.push_back(t);
  }
  return out;
}

TEST(SandboxImage, ReadFromContainerdVerboseStatus) {
  v1::StatusResponse st;
  EXPECT_EQ(agent::gc::sandboxImage(st), "");
  (*st.mutable_info())["config"] = R"({"sandboxImage":"registry.k8s.io/pause:3.9","x":1})";
  EXPECT_EQ(agent::gc::sandboxImage(st), "registry.k8s.io/pause:3.9");
  (*st.mutable_info())["config"] = "not json";
  EXPECT_EQ(agent::gc::sandboxImage(st), "");
}

TEST(ImageGc, RemovesOnlyImagesNoContainerUses) {
  auto env = startFakeCri("image-gc");
  ASSERT_TRUE(env.ok()) << env.status();
  auto& server = *env->server;
  auto& client = *env->client;
  server.addImage("docker.io/library/busybox:1.36", 5 << 20);
  server.addImage("docker.io/library/nginx:1.25", 7 << 20);
  server.addImage("docker.io/library/old:1", 3 << 20);
  server.addImage("docker.io/library/exited:1", 2 << 20);

  v1::PodSandboxConfig sb;
  sb.mutable_metadata()->set_name("p");
  sb.mutable_metadata()->set_namespace_("default");
  sb.mutable_metadata()->set_uid("u1");
  auto sandbox = client.runPodSandbox(sb, "");
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  auto create = [&](const std::string& name, const std::string& image) {
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_image()->set_image(image);
    auto id = client.createContainer(*sandbox, c, sb);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  };
  ASSERT_TRUE(client.startContainer(create("a", "docker.io/library/busybox:1.36")).ok());
  create("b", "docker.io/library/exited:1");  // created, never started: still uses it

  auto r = agent::gc::deleteUnusedImages(client, client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed.size(), 2u);
  EXPECT_EQ(r->bytesFreed, (7 << 20) + (3 << 20));
  EXPECT_THAT(imageTags(client),
              UnorderedElementsAre("docker.io/library/busybox:1.36", "docker.io/library/exited:1"));
  // Nothing more to remove the second time.
  auto again = agent::gc::deleteUnusedImages(client, client);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->removed.empty());
  env->client.reset();
  env->server.reset();
  ASSERT_TRUE(core::removeAll(env->dir).ok());
}

}  // namespace
}  // namespace cubelet::testing
