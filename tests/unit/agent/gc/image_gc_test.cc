// Image GC against the fake CRI server (real gRPC): images used by any container,
// running or exited, stay; the threshold math, least-recently-used order and minimum
// age of the kubelet's image GC manager; the node events; and the loop side (the
// 5-minute period, off at imageGCHighThresholdPercent 100, ImageGCFailed only when
// a pass fails twice in a row).
#include "agent/gc/image_gc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/gc/garbage_collector.h"
#include "core/atomic_file.h"
#include "tests/fakes/sim_event_loop.h"
#include "tests/support/fake_cri_env.h"

namespace cubelet::testing {
namespace {

namespace v1 = ::runtime::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kMiB = 1 << 20;

std::vector<std::string> imageTags(cri::ImageService& images) {
  std::vector<std::string> out;
  auto list = images.listImages(v1::ImageFilter());
  EXPECT_TRUE(list.ok()) << list.status();
  for (const auto& i : *list) {
    for (const auto& t : i.repo_tags()) out.push_back(t);
  }
  return out;
}

std::string ref(const std::string& name) { return "docker.io/library/" + name + ":1"; }

core::WallTime at(int64_t minutes) {
  return core::WallTime(std::chrono::seconds(1700000000) + std::chrono::minutes(minutes));
}

// A fake runtime, and an image filesystem of `capacity` bytes whose only other
// content is `otherBytes`: what is available follows the images present.
class ImageGcRig {
 public:
  explicit ImageGcRig(const std::string& name) {
    auto env = startFakeCri(name);
    if (!env.ok()) {
      ADD_FAILURE() << env.status();
      return;
    }
    env_ = std::move(*env);
  }
  ~ImageGcRig() {
    env_.client.reset();
    env_.server.reset();
    if (!env_.dir.empty()) {
      EXPECT_TRUE(core::removeAll(env_.dir).ok());
    }
  }
  bool ok() const { return env_.client != nullptr; }

  agent::gc::ImageFsStatsFn fsStats() {
    return [this]() -> absl::StatusOr<agent::gc::ImageFsUsage> {
      auto info = env_.client->imageFsInfo();
      if (!info.ok()) return info.status();
      int64_t used = static_cast<int64_t>(info->image_filesystems(0).used_bytes().value());
      return agent::gc::ImageFsUsage{capacity, capacity - used - otherBytes};
    };
  }
  // A container using `image`; `keep` false: removed again (the image was in use
  // only until now).
  std::string use(const std::string& image) {
    if (sandbox_.empty()) {
      v1::PodSandboxConfig sb;
      sb.mutable_metadata()->set_name("p");
      sb.mutable_metadata()->set_namespace_("default");
      sb.mutable_metadata()->set_uid("u1");
      sandbox_ = *env_.client->runPodSandbox(sb, "");
    }
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name("c" + std::to_string(++n_));
    c.mutable_image()->set_image(image);
    auto id = env_.client->createContainer(sandbox_, c, v1::PodSandboxConfig());
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }
  void drop(const std::string& containerId) {
    EXPECT_TRUE(env_.client->removeContainer(containerId).ok());
  }

  FakeCriServer& server() { return *env_.server; }
  cri::GrpcRuntimeClient& client() { return *env_.client; }

  int64_t capacity = 100 * kMiB;
  int64_t otherBytes = 0;

 private:
  FakeCriEnv env_;
  std::string sandbox_;
  int n_ = 0;
};

TEST(SandboxImage, ReadFromContainerdVerboseStatus) {
  v1::StatusResponse st;
  EXPECT_EQ(agent::gc::sandboxImage(st), "");
  (*st.mutable_info())["config"] = R"({"sandboxImage":"registry.k8s.io/pause:3.9","x":1})";
  EXPECT_EQ(agent::gc::sandboxImage(st), "registry.k8s.io/pause:3.9");
  (*st.mutable_info())["config"] = "not json";
  EXPECT_EQ(agent::gc::sandboxImage(st), "");
}

TEST(ImageGc, DeleteUnusedImagesKeepsImagesAnyContainerUses) {
  ImageGcRig rig("image-gc-unused");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("busybox"), 5 << 20);
  rig.server().addImage(ref("nginx"), 7 << 20);
  rig.server().addImage(ref("old"), 3 << 20);
  rig.server().addImage(ref("exited"), 2 << 20);
  ASSERT_TRUE(rig.client().startContainer(rig.use(ref("busybox"))).ok());
  rig.use(ref("exited"));  // created, never started: still uses it

  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {.minAge = {}}, rig.fsStats());
  auto r = gc.deleteUnusedImages(at(0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed.size(), 2u);
  EXPECT_EQ(r->bytesFreed, (7 << 20) + (3 << 20));
  EXPECT_THAT(imageTags(rig.client()), UnorderedElementsAre(ref("busybox"), ref("exited")));
  auto again = gc.deleteUnusedImages(at(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->removed.empty());
}

TEST(ImageGc, DeleteUnusedImagesSparesYoungImages) {
  ImageGcRig rig("image-gc-young");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("old"), kMiB);
  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {}, rig.fsStats());
  ASSERT_TRUE(gc.detectImages(at(0)).ok());
  rig.server().addImage(ref("new"), kMiB);
  auto r = gc.deleteUnusedImages(at(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(imageTags(rig.client()), ElementsAre(ref("new")));
  r = gc.deleteUnusedImages(at(4));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(imageTags(rig.client()), IsEmpty());
}

TEST(ImageGc, RecordsFirstDetectionAndLastUse) {
  ImageGcRig rig("image-gc-records");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("a"), 3 * kMiB);
  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {}, rig.fsStats());
  ASSERT_TRUE(gc.detectImages(at(0)).ok());
  auto list = rig.client().listImages(v1::ImageFilter());
  ASSERT_TRUE(list.ok() && list->size() == 1u);
  std::string id = (*list)[0].id();
  auto r = gc.record(id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->firstDetected, at(0));
  EXPECT_EQ(r->lastUsed, core::WallTime{});
  EXPECT_EQ(r->size, 3 * kMiB);
  rig.use(ref("a"));
  ASSERT_TRUE(gc.detectImages(at(3)).ok());
  r = gc.record(id);
  EXPECT_EQ(r->firstDetected, at(0));
  EXPECT_EQ(r->lastUsed, at(3));
}

TEST(ImageGc, BelowTheHighThresholdNothingIsRemoved) {
  ImageGcRig rig("image-gc-below");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("a"), 10 * kMiB);
  rig.otherBytes = 74 * kMiB;  // 84 %
  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {.minAge = {}}, rig.fsStats());
  auto out = gc.garbageCollect(at(10));
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.usagePercent, 84);
  EXPECT_THAT(out.events, IsEmpty());
  EXPECT_EQ(rig.server().callCount("RemoveImage"), 0);
}

TEST(ImageGc, FreesDownToTheLowThresholdLeastRecentlyUsedFirst) {
  ImageGcRig rig("image-gc-lru");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("never"), 10 * kMiB);
  rig.server().addImage(ref("early"), 20 * kMiB);
  rig.server().addImage(ref("late"), 30 * kMiB);
  rig.server().addImage(ref("inuse"), 30 * kMiB);
  agent::gc::ImageGcManager gc(rig.client(), rig.client(),
                               {.highThresholdPercent = 85, .lowThresholdPercent = 60},
                               rig.fsStats());
  // "early" is used until minute 1, "late" until minute 2, "inuse" throughout.
  rig.use(ref("inuse"));
  std::string early = rig.use(ref("early"));
  std::string late = rig.use(ref("late"));
  ASSERT_TRUE(gc.detectImages(at(1)).ok());
  rig.drop(early);
  ASSERT_TRUE(gc.detectImages(at(2)).ok());
  rig.drop(late);

  // 90 MiB used of 100: 90 % >= 85 %. Down to 60 % means 40 MiB available, 30 more:
  // "never" (10) then "early" (20); "late" was used more recently and stays.
  auto out = gc.garbageCollect(at(10));
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.usagePercent, 90);
  EXPECT_EQ(out.freed.bytesFreed, 30 * kMiB);
  EXPECT_THAT(out.events, IsEmpty());
  EXPECT_THAT(imageTags(rig.client()), UnorderedElementsAre(ref("late"), ref("inuse")));

  // 60 % now: below the high threshold.
  out = gc.garbageCollect(at(15));
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.usagePercent, 60);
  EXPECT_EQ(out.freed.bytesFreed, 0);
}

TEST(ImageGc, NotEnoughEligibleIsFreeDiskSpaceFailed) {
  ImageGcRig rig("image-gc-short");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("a"), 10 * kMiB);
  rig.server().addImage(ref("b"), 5 * kMiB);
  rig.otherBytes = 75 * kMiB;  // 90 %: 10 MiB to free down to 80 %
  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {}, rig.fsStats());
  ASSERT_TRUE(gc.detectImages(at(0)).ok());
  rig.server().addImage(ref("young"), 5 * kMiB);  // 95 %: 15 MiB to free
  rig.use(ref("a"));

  // At minute 5 "b" is old enough, "young" (first seen at 5) is not, "a" is used.
  auto out = gc.garbageCollect(at(5));
  EXPECT_FALSE(out.status.ok());
  EXPECT_EQ(out.usagePercent, 95);
  EXPECT_EQ(out.freed.bytesFreed, 5 * kMiB);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].reason, agent::gc::kFreeDiskSpaceFailed);
  EXPECT_EQ(out.events[0].message,
            "Failed to garbage collect required amount of images. Attempted to free 15728640 "
            "bytes, but only found 5242880 bytes eligible to free.");
  EXPECT_EQ(out.status.message(), out.events[0].message);
  EXPECT_THAT(imageTags(rig.client()), UnorderedElementsAre(ref("a"), ref("young")));
}

TEST(ImageGc, ZeroCapacityIsInvalidDiskCapacity) {
  ImageGcRig rig("image-gc-capacity");
  ASSERT_TRUE(rig.ok());
  rig.capacity = 0;
  agent::gc::ImageGcManager gc(rig.client(), rig.client(), {}, rig.fsStats());
  auto out = gc.garbageCollect(at(0));
  EXPECT_FALSE(out.status.ok());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].reason, agent::gc::kInvalidDiskCapacity);
  EXPECT_EQ(out.events[0].message, "invalid capacity 0 on image filesystem");
}

TEST(ImageGc, CriImageFsStatsReadsTheMountpoint) {
  ImageGcRig rig("image-gc-statvfs");
  ASSERT_TRUE(rig.ok());
  rig.server().setImageFsMountpoint("/");
  auto fs = agent::gc::criImageFsStats(rig.client());
  ASSERT_TRUE(fs.ok()) << fs.status();
  EXPECT_GT(fs->capacityBytes, 0);
  EXPECT_LE(fs->availableBytes, fs->capacityBytes);
  rig.server().setImageFsMountpoint("/does/not/exist");
  EXPECT_FALSE(agent::gc::criImageFsStats(rig.client()).ok());
}

class InlinePool : public core::WorkerPool {
 public:
  void submit(std::function<void()> job) override { job(); }
};

// The loop side: a container GC with nothing to collect, the image manager under test.
struct LoopRig {
  explicit LoopRig(ImageGcRig& images, agent::gc::ImageGcPolicy policy)
      : manager(images.client(), images.client(), policy, images.fsStats()),
        runtime(images.client(), images.client(), agent::runtime::RuntimeOptions()),
        containers(images.client(), runtime) {}
  std::unique_ptr<agent::gc::GarbageCollector> make(bool enabled) {
    agent::gc::GarbageCollectorOptions o;
    o.imageGcEnabled = enabled;
    agent::gc::GarbageCollectorDeps deps;
    deps.podStates = [] { return std::optional<agent::gc::PodGcStates>(); };
    deps.nodeWarning = [this](const std::string& reason, const std::string& message) {
      events.emplace_back(reason, message);
    };
    return std::make_unique<agent::gc::GarbageCollector>(loop, pool, containers, manager, o,
                                                         std::move(deps));
  }
  core::SimEventLoop loop;
  InlinePool pool;
  agent::gc::ImageGcManager manager;
  agent::runtime::RuntimeManager runtime;
  agent::gc::ContainerGc containers;
  std::vector<std::pair<std::string, std::string>> events;
};

TEST(GarbageCollector, ImageGcEveryFiveMinutesAndImageGCFailedWhenItFailsTwice) {
  ImageGcRig rig("image-gc-loop");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("a"), 10 * kMiB);
  rig.otherBytes = 80 * kMiB;  // 90 %
  LoopRig l(rig, {.minAge = std::chrono::minutes(20)});
  auto gc = l.make(true);
  gc->start();
  l.loop.runPending();
  l.loop.advance(std::chrono::minutes(4));
  l.loop.runPending();
  EXPECT_EQ(rig.server().callCount("ImageFsInfo"), 0);
  // Minute 5: "a" is too young; a first failure is only logged and FreeDiskSpaceFailed.
  l.loop.advance(std::chrono::minutes(1));
  l.loop.runPending();
  EXPECT_EQ(rig.server().callCount("ImageFsInfo"), 1);
  ASSERT_EQ(l.events.size(), 1u);
  EXPECT_EQ(l.events[0].first, agent::gc::kFreeDiskSpaceFailed);
  // Minute 10: failed twice in a row, ImageGCFailed with the error.
  l.loop.advance(std::chrono::minutes(5));
  l.loop.runPending();
  ASSERT_EQ(l.events.size(), 3u);
  EXPECT_EQ(l.events[1].first, agent::gc::kFreeDiskSpaceFailed);
  EXPECT_EQ(l.events[2].first, agent::gc::kImageGCFailed);
  EXPECT_THAT(l.events[2].second, HasSubstr("Attempted to free 10485760 bytes"));
  // Minute 15: still too young, failing again.
  l.loop.advance(std::chrono::minutes(5));
  l.loop.runPending();
  ASSERT_EQ(l.events.size(), 5u);
  EXPECT_EQ(l.events[4].first, agent::gc::kImageGCFailed);
  // Minute 20: old enough; freed, no more events.
  l.loop.advance(std::chrono::minutes(5));
  l.loop.runPending();
  EXPECT_EQ(l.events.size(), 5u);
  EXPECT_THAT(imageTags(rig.client()), IsEmpty());
}

TEST(GarbageCollector, HighThreshold100DisablesImageGc) {
  ImageGcRig rig("image-gc-off");
  ASSERT_TRUE(rig.ok());
  rig.server().addImage(ref("a"), 10 * kMiB);
  rig.capacity = 10 * kMiB;  // full
  LoopRig l(rig, {.highThresholdPercent = 100, .minAge = {}});
  auto gc = l.make(false);
  gc->start();
  l.loop.advance(std::chrono::minutes(30));
  l.loop.runPending();
  EXPECT_EQ(rig.server().callCount("ImageFsInfo"), 0);
  EXPECT_EQ(rig.server().callCount("RemoveImage"), 0);
  EXPECT_THAT(l.events, IsEmpty());
  // The eviction manager's reclaim still works.
  std::optional<absl::Status> done;
  gc->deleteUnusedImages([&](absl::Status s) { done = s; });
  l.loop.runPending();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << *done;
  EXPECT_THAT(imageTags(rig.client()), IsEmpty());
}

}  // namespace
}  // namespace cubelet::testing
