// A CgroupManager in memory for the container-manager tests: it records every call
// ("create /kubepods/burstable/pod1") and the ResourceConfig each cgroup ends up with,
// answers synchronously (as the cgroupfs driver) or holds answers until released (as
// the systemd driver), and fails the calls it is told to.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cgroups/cgroup_manager.h"

namespace cubelet::testing {

class FakeCgroupManager : public cgroups::CgroupManager {
 public:
  std::string driver() const override { return driver_; }
  bool managesCgroups() const override { return manages_; }
  std::string runtimeParent(const cgroups::CgroupName& n) const override {
    return driver_ == "systemd" ? cgroups::toSystemd(n) : cgroups::toCgroupfs(n);
  }
  std::string path(const cgroups::CgroupName& n) const override {
    return manages_ ? "/sys/fs/cgroup" + cgroups::toCgroupfs(n) : "";
  }
  bool exists(const cgroups::CgroupName& n) const override {
    return cgroups_.count(cgroups::toCgroupfs(n)) > 0;
  }
  void create(const cgroups::CgroupName& n, const cgroups::ResourceConfig& rc, Done done) override {
    std::string key = cgroups::toCgroupfs(n);
    calls.push_back("create " + key);
    if (auto s = failureFor("create " + key); !s.ok()) return answer(std::move(done), s);
    // Missing ancestors come into being first, as the real drivers make them.
    cgroups::CgroupName up;
    for (const auto& c : n.components) {
      up.components.push_back(c);
      cgroups_[cgroups::toCgroupfs(up)];
    }
    apply(cgroups_[key], rc);
    answer(std::move(done), absl::OkStatus());
  }
  void update(const cgroups::CgroupName& n, const cgroups::ResourceConfig& rc, Done done) override {
    std::string key = cgroups::toCgroupfs(n);
    calls.push_back("update " + key);
    if (auto s = failureFor("update " + key); !s.ok()) return answer(std::move(done), s);
    auto it = cgroups_.find(key);
    if (it == cgroups_.end()) return answer(std::move(done), absl::NotFoundError(key));
    apply(it->second, rc);
    answer(std::move(done), absl::OkStatus());
  }
  void destroy(const cgroups::CgroupName& n, Done done) override {
    std::string key = cgroups::toCgroupfs(n);
    calls.push_back("destroy " + key);
    if (auto s = failureFor("destroy " + key); !s.ok()) return answer(std::move(done), s);
    cgroups_.erase(key);
    answer(std::move(done), absl::OkStatus());
  }

  // --- Test controls.
  void setDriver(std::string d) { driver_ = std::move(d); }
  void setManages(bool m) { manages_ = m; }
  // The call ("create /kubepods") fails with `s` from now on.
  void failOn(const std::string& call, absl::Status s) { failures_[call] = std::move(s); }
  // Answers are held until release() (an asynchronous driver).
  void holdAnswers(bool hold) { hold_ = hold; }
  void release() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& [done, s] : held) done(s);
  }
  size_t heldCount() const { return held_.size(); }
  // A cgroup the test puts in place (as left by an earlier run).
  void add(const std::string& path) { cgroups_[path]; }
  const cgroups::ResourceConfig* config(const std::string& path) const {
    auto it = cgroups_.find(path);
    return it == cgroups_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : cgroups_) out.push_back(k);
    return out;
  }

  std::vector<std::string> calls;

 private:
  static void apply(cgroups::ResourceConfig& into, const cgroups::ResourceConfig& rc) {
    if (rc.cpuWeight) into.cpuWeight = rc.cpuWeight;
    if (rc.cpuQuotaUs) into.cpuQuotaUs = rc.cpuQuotaUs;
    if (rc.cpuPeriodUs) into.cpuPeriodUs = rc.cpuPeriodUs;
    if (rc.memoryMax) into.memoryMax = rc.memoryMax;
    if (rc.memoryMin) into.memoryMin = rc.memoryMin;
    if (rc.memoryHigh) into.memoryHigh = rc.memoryHigh;
    if (rc.pidsMax) into.pidsMax = rc.pidsMax;
  }
  absl::Status failureFor(const std::string& call) const {
    auto it = failures_.find(call);
    return it == failures_.end() ? absl::OkStatus() : it->second;
  }
  void answer(Done done, absl::Status s) {
    if (hold_) {
      held_.emplace_back(std::move(done), std::move(s));
      return;
    }
    done(std::move(s));
  }

  std::string driver_ = "cgroupfs";
  bool manages_ = true;
  bool hold_ = false;
  std::map<std::string, cgroups::ResourceConfig> cgroups_;
  std::map<std::string, absl::Status> failures_;
  std::vector<std::pair<Done, absl::Status>> held_;
};

}  // namespace cubelet::testing
