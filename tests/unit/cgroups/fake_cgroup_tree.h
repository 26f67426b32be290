// A fake cgroup2 hierarchy in a temp dir, laid out as the kernel lays out a real
// one: the root offers "cpuset cpu io memory hugetlb pids rdma misc", and a cgroup
// made through ops().mkdir gets cgroup.controllers from its parent's
// cgroup.subtree_control and the interface files of those controllers with the
// kernel's defaults. ops().rmdir refuses (EBUSY) while cgroup.procs lists a pid, as
// the kernel does, then removes the files and the directory. Both record what they
// did, in order, for the tests to check.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cgroups/cgroupfs_manager.h"
#include "core/atomic_file.h"
#include "gtest/gtest.h"

namespace cubelet::testing {

class FakeCgroupTree {
 public:
  explicit FakeCgroupTree(
      const std::string& rootControllers = "cpuset cpu io memory hugetlb pids rdma misc") {
    char tmpl[] = "/tmp/cubelet-fake-cgroup-XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // The root cgroup has no cpu.weight/cpu.max/memory.max: the kernel puts the
    // limit files only in child cgroups.
    put(root_, "cgroup.controllers", rootControllers + "\n");
    put(root_, "cgroup.subtree_control", "");
    put(root_, "cgroup.procs", "1\n");
    put(root_, "cgroup.max.depth", "max\n");
    put(root_, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    put(root_, "cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  }
  ~FakeCgroupTree() { EXPECT_TRUE(core::removeAll(root_).ok()) << root_; }
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::string& root() const { return root_; }
  // Paths relative to the root, in the order the manager made / removed them.
  const std::vector<std::string>& mkdirs() const { return mkdirs_; }
  const std::vector<std::string>& rmdirs() const { return rmdirs_; }

  cgroups::CgroupfsDirOps ops() {
    return cgroups::CgroupfsDirOps{
        .mkdir = [this](const std::string& p) { return fakeMkdir(p); },
        .rmdir = [this](const std::string& p) { return fakeRmdir(p); },
    };
  }

  // The content of root-relative `rel` ("kubepods/cpu.max"), "<missing>" if absent.
  std::string read(const std::string& rel) const {
    auto s = core::readFile(root_ + "/" + rel);
    return s.ok() ? *s : "<missing>";
  }
  void write(const std::string& rel, const std::string& content) { put(root_, rel, content); }

 private:
  // Plain writes: the atomic writer's fsyncs would make each fake mkdir take ~50ms.
  static void put(const std::string& dir, const std::string& file, const std::string& content) {
    std::ofstream out(dir + "/" + file, std::ios::trunc);
    out << content;
    EXPECT_TRUE(out.good()) << dir << "/" << file;
  }

  std::string relative(const std::string& p) const { return p.substr(root_.size() + 1); }

  int fakeMkdir(const std::string& p) {
    if (::mkdir(p.c_str(), 0755) != 0) return errno;
    mkdirs_.push_back(relative(p));
    // What the parent enables is what the child gets.
    std::string parent = p.substr(0, p.rfind('/'));
    auto enabled = cgroups::readControllerList(parent + "/cgroup.subtree_control");
    std::set<std::string> ctrls = enabled.ok() ? *enabled : std::set<std::string>{};
    std::string list;
    for (const char* c : {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}) {
      if (ctrls.count(c)) list += (list.empty() ? "" : " ") + std::string(c);
    }
    put(p, "cgroup.controllers", list + "\n");
    put(p, "cgroup.subtree_control", "");
    put(p, "cgroup.procs", "");
    put(p, "cgroup.events", "populated 0\nfrozen 0\n");
    put(p, "cgroup.type", "domain\n");
    put(p, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    put(p, "cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    if (ctrls.count("cpu")) {
      put(p, "cpu.weight", "100\n");
      put(p, "cpu.max", "max 100000\n");
    }
    if (ctrls.count("memory")) {
      put(p, "memory.max", "max\n");
      put(p, "memory.min", "0\n");
      put(p, "memory.high", "max\n");
      put(p, "memory.current", "0\n");
    }
    if (ctrls.count("pids")) {
      put(p, "pids.max", "max\n");
      put(p, "pids.current", "0\n");
    }
    return 0;
  }

  int fakeRmdir(const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return errno;
    auto procs = core::readFile(p + "/cgroup.procs");
    if (procs.ok() && procs->find_first_not_of(" \n") != std::string::npos) return EBUSY;
    DIR* d = ::opendir(p.c_str());
    if (d == nullptr) return errno;
    std::vector<std::string> files;
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_type == DT_REG) files.push_back(p + "/" + e->d_name);
    }
    ::closedir(d);
    for (const std::string& f : files) ::unlink(f.c_str());
    if (::rmdir(p.c_str()) != 0) return errno;  // ENOTEMPTY while a child cgroup is left
    rmdirs_.push_back(relative(p));
    return 0;
  }

  std::string root_;
  std::vector<std::string> mkdirs_;
  std::vector<std::string> rmdirs_;
};

}  // namespace cubelet::testing
