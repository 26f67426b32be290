#include "agent/eviction/eviction_manager.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/fakes/sim_event_loop.h"

namespace agent::eviction {
namespace {

using namespace std::chrono_literals;

constexpr int64_t Mi = 1024 * 1024;
constexpr int64_t Gi = 1024 * Mi;

struct Evicted {
  std::string name;
  PodEvictionStatus status;
};

struct Event {
  std::string object;  // pod name, or "node"
  std::string reason;
  std::string message;
};

// A node with pods, a fake stats source and recorders for everything the manager does.
class EvictionManagerTest : public ::testing::Test {
 protected:
  void addPod(const std::string& name, const char* memRequest, int64_t workingSet,
              int32_t priority = 0) {
    api::Pod p;
    p.metadata.name = name;
    p.metadata.namespace_ = "default";
    p.metadata.uid = "uid-" + name;
    p.spec.priority = priority;
    api::Container c;
    c.name = "app";
    if (memRequest) c.resources.requests["memory"] = *api::Quantity::parse(memRequest);
    p.spec.containers.push_back(c);
    pods_.push_back(p);
    PodUsage u;
    u.uid = p.metadata.uid;
    u.name = name;
    u.namespace_ = "default";
    u.memoryWorkingSet = workingSet;
    u.containers = {{"app", workingSet, FsUsage{0, 0}, FsUsage{0, 0}}};
    obs_.pods[p.metadata.uid] = u;
  }

  void setMemoryAvailable(int64_t available) {
    obs_.signals[Signal::kMemoryAvailable] = {available, 8 * Gi, std::nullopt};
  }

  void make(std::map<std::string, std::string> hard, std::map<std::string, std::string> soft = {},
            std::map<std::string, std::string> grace = {}, int64_t maxPodGrace = 0) {
    auto t = parseThresholds(hard, soft, grace, {});
    ASSERT_TRUE(t.ok()) << t.status();
    EvictionManagerOptions opts;
    opts.thresholds = *t;
    opts.maxPodGracePeriodSeconds = maxPodGrace;
    EvictionManagerDeps deps;
    deps.collect = [this](EvictionManagerDeps::ObservationsDone done) {
      ++collects_;
      Observations o = obs_;
      loop_.post([done, o] { done(o); });
    };
    deps.activePods = [this] {
      std::vector<const api::Pod*> out;
      for (const auto& p : pods_) {
        if (!gone_.count(p.metadata.uid)) out.push_back(&p);
      }
      return out;
    };
    deps.evictPod = [this](const api::Pod& pod, const PodEvictionStatus& s) {
      evicted_.push_back({pod.metadata.name, s});
    };
    deps.podCleanedUp = [this](const std::string& uid) { return cleanedUp_.count(uid) > 0; };
    deps.deleteAllUnusedContainers = [this](EvictionManagerDeps::Done done) {
      gc_.push_back("containers");
      loop_.post([done] { done(absl::OkStatus()); });
    };
    deps.deleteUnusedImages = [this](EvictionManagerDeps::Done done) {
      gc_.push_back("images");
      if (imagesFree_) obs_.signals[Signal::kNodeFsAvailable].available += imagesFree_;
      loop_.post([done] { done(absl::OkStatus()); });
    };
    deps.recordEvent = [this](const api::Pod* pod, std::string_view reason,
                              std::string_view message, const std::map<std::string, std::string>&) {
      events_.push_back(
          {pod ? pod->metadata.name : "node", std::string(reason), std::string(message)});
    };
    mgr_ = std::make_unique<EvictionManager>(loop_, opts, std::move(deps));
  }

  // Moves time in 1 s steps, running what the loop has posted after each.
  void run(core::Duration d) {
    loop_.runPending();
    for (auto t = core::Duration(0); t < d; t += 1s) {
      loop_.advance(1s);
      loop_.runPending();
    }
  }

  // The evicted pod goes away and its resources are reclaimed.
  void cleanUp(const std::string& name) {
    gone_.insert("uid-" + name);
    cleanedUp_.insert("uid-" + name);
    obs_.pods.erase("uid-" + name);
  }

  core::SimEventLoop loop_;
  std::vector<api::Pod> pods_;
  Observations obs_;
  std::set<std::string> gone_, cleanedUp_;
  std::vector<Evicted> evicted_;
  std::vector<Event> events_;
  std::vector<std::string> gc_;
  int64_t imagesFree_ = 0;
  int collects_ = 0;
  std::unique_ptr<EvictionManager> mgr_;
};

TEST_F(EvictionManagerTest, MemoryPressureEvictsTheRightPodAndClearsAfterTransition) {
  addPod("besteffort", nullptr, 50 * Mi);
  addPod("hungry", "100Mi", 500 * Mi);
  addPod("guaranteed", "1Gi", 200 * Mi);
  addPod("static-critical", nullptr, 3 * Gi);
  pods_.back().metadata.annotations["kubernetes.io/config.source"] = "file";
  setMemoryAvailable(50 * Mi);
  make({{"memory.available", "100Mi"}});
  EXPECT_FALSE(mgr_->pressure().memory);

  mgr_->start();
  loop_.runPending();
  // The static pod ranks first but is critical; the next is the largest consumer above
  // its request.
  ASSERT_EQ(evicted_.size(), 1u);
  EXPECT_EQ(evicted_[0].name, "hungry");
  const PodEvictionStatus& s = evicted_[0].status;
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.reason, "Evicted");
  EXPECT_EQ(s.gracePeriodSeconds, 0);
  EXPECT_EQ(s.message,
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
            "Container app was using 500Mi, request is 100Mi, has larger consumption of memory. ");
  ASSERT_EQ(s.conditions.size(), 1u);
  EXPECT_EQ(s.conditions[0].type, "DisruptionTarget");
  EXPECT_EQ(s.conditions[0].status, "True");
  EXPECT_EQ(s.conditions[0].reason, "TerminationByKubelet");
  EXPECT_EQ(s.conditions[0].message, s.message);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].object, "node");
  EXPECT_EQ(events_[0].reason, "EvictionThresholdMet");
  EXPECT_EQ(events_[0].message, "Attempting to reclaim memory");
  EXPECT_EQ(events_[1].object, "hungry");
  EXPECT_EQ(events_[1].reason, "Evicted");
  EXPECT_EQ(events_[1].message, s.message);
  EXPECT_TRUE(mgr_->pressure().memory);
  EXPECT_FALSE(mgr_->pressure().disk);
  ASSERT_TRUE(mgr_->admit(pods_[0], {}).has_value());  // BestEffort refused
  EXPECT_FALSE(mgr_->admit(pods_[1], {}).has_value());

  // Until the pod is cleaned up nothing else happens (up to 30 s).
  int collects = collects_;
  run(5s);
  EXPECT_EQ(collects_, collects);
  // Cleaned up and pressure gone: the next cycle runs at once and evicts no one.
  cleanUp("hungry");
  setMemoryAvailable(2 * Gi);
  run(1s);
  EXPECT_EQ(collects_, collects + 1);
  EXPECT_EQ(evicted_.size(), 1u);
  // MemoryPressure stays for the transition period (5 min since last observed at t=0).
  run(4min);
  EXPECT_TRUE(mgr_->pressure().memory);
  EXPECT_EQ(evicted_.size(), 1u);
  run(1min);
  EXPECT_FALSE(mgr_->pressure().memory);
  EXPECT_FALSE(mgr_->admit(pods_[0], {}).has_value());
  EXPECT_EQ(evicted_.size(), 1u);
}

TEST_F(EvictionManagerTest, CleanupWaitTimesOutAfter30Seconds) {
  addPod("a", nullptr, 500 * Mi);
  addPod("b", nullptr, 400 * Mi);
  setMemoryAvailable(50 * Mi);
  make({{"memory.available", "100Mi"}});
  mgr_->start();
  loop_.runPending();
  ASSERT_EQ(evicted_.size(), 1u);
  EXPECT_EQ(evicted_[0].name, "a");
  run(29s);
  EXPECT_EQ(evicted_.size(), 1u);
  // Never cleaned up: after 30 s the manager moves on and evicts the next pod (the
  // stuck one is still active and first in rank, so it is evicted again).
  run(2s);
  EXPECT_EQ(evicted_.size(), 2u);
}

TEST_F(EvictionManagerTest, SoftThresholdWaitsOutItsGracePeriod) {
  addPod("web", nullptr, 300 * Mi);
  setMemoryAvailable(300 * Mi);
  make({{"memory.available", "100Mi"}}, {{"memory.available", "500Mi"}},
       {{"memory.available", "30s"}}, /*maxPodGrace=*/20);
  mgr_->start();
  loop_.runPending();
  // The condition is reported at once; the eviction waits for the grace period.
  EXPECT_TRUE(mgr_->pressure().memory);
  EXPECT_TRUE(evicted_.empty());
  run(20s);
  EXPECT_TRUE(evicted_.empty());
  run(10s);
  ASSERT_EQ(evicted_.size(), 1u);
  EXPECT_EQ(evicted_[0].name, "web");
  EXPECT_EQ(evicted_[0].status.gracePeriodSeconds, 20);
  EXPECT_EQ(evicted_[0].status.message,
            "The node was low on resource: memory. Threshold quantity: 500Mi, available: 300Mi. "
            "Container app was using 300Mi, request is 0, has larger consumption of memory. ");
}

class DiskPressureTest : public EvictionManagerTest {
 protected:
  void SetUp() override {
    addPod("quiet", nullptr, 0);
    addPod("writer", nullptr, 0);
    obs_.pods["uid-writer"].containers[0].rootfs = FsUsage{5 * Gi, 100};
    obs_.pods["uid-quiet"].containers[0].rootfs = FsUsage{Mi, 1};
    obs_.signals[Signal::kNodeFsAvailable] = {5 * Gi, 100 * Gi, std::nullopt};
    make({{"nodefs.available", "10%"}});
  }
};

TEST_F(DiskPressureTest, ImageGarbageCollectionFirstAndEnough) {
  imagesFree_ = 20 * Gi;
  mgr_->start();
  loop_.runPending();
  EXPECT_EQ(gc_, (std::vector<std::string>{"containers", "images"}));
  EXPECT_TRUE(evicted_.empty());
  EXPECT_TRUE(mgr_->pressure().disk);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].message, "Attempting to reclaim ephemeral-storage");
}

TEST_F(DiskPressureTest, EvictsWhenGarbageCollectionIsNotEnough) {
  imagesFree_ = 1 * Gi;  // 6Gi free, still under 10%
  mgr_->start();
  loop_.runPending();
  EXPECT_EQ(gc_, (std::vector<std::string>{"containers", "images"}));
  ASSERT_EQ(evicted_.size(), 1u);
  EXPECT_EQ(evicted_[0].name, "writer");
  // The message quotes the observation that triggered the eviction.
  EXPECT_EQ(evicted_[0].status.message.rfind(
                "The node was low on resource: ephemeral-storage. Threshold quantity: ", 0),
            0u);
  EXPECT_NE(evicted_[0].status.message.find(", available: 5Gi. Container app was using 5Gi"),
            std::string::npos)
      << evicted_[0].status.message;
}

TEST_F(EvictionManagerTest, EmptyDirOverItsLimitIsEvicted) {
  addPod("cache", nullptr, 10 * Mi);
  api::Volume v;
  v.name = "scratch";
  v.emptyDir = api::EmptyDirVolumeSource{"", *api::Quantity::parse("100Mi")};
  pods_.back().spec.volumes.push_back(v);
  obs_.pods["uid-cache"].volumes["scratch"] = {101 * Mi, 10};
  setMemoryAvailable(4 * Gi);
  make({{"memory.available", "100Mi"}});
  mgr_->start();
  loop_.runPending();
  ASSERT_EQ(evicted_.size(), 1u);
  EXPECT_EQ(evicted_[0].status.message,
            "Usage of EmptyDir volume \"scratch\" exceeds the limit \"100Mi\". ");
  EXPECT_EQ(evicted_[0].status.gracePeriodSeconds, 0);
  EXPECT_TRUE(evicted_[0].status.conditions.empty());
  EXPECT_FALSE(mgr_->pressure().memory);
}

}  // namespace
}  // namespace agent::eviction
