// The node's machine facts that the Node object reports (what the kubelet gets from
// cAdvisor's MachineInfo and VersionInfo): machine and boot IDs, system UUID,
// kernel, OS image, memory, CPUs, huge pages, ephemeral-storage capacity, the
// architecture. Read from files under a configurable root ("/" in production, a
// temporary directory laid out like / in tests). Reading does small blocking file
// I/O and one statfs: call it once at start-up (or on the worker pool).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace agent::node {

struct HugePageInfo {
  int64_t pageSizeBytes = 0;  // 2097152 for /sys/kernel/mm/hugepages/hugepages-2048kB
  int64_t numPages = 0;       // nr_hugepages
  bool operator==(const HugePageInfo&) const = default;
};

struct MachineInfo {
  std::string machineID;                // /etc/machine-id (else /var/lib/dbus/machine-id)
  std::string systemUUID;               // /sys/class/dmi/id/product_uuid, with cAdvisor's fallbacks
  std::string bootID;                   // /proc/sys/kernel/random/boot_id
  std::string kernelVersion;            // uname -r (/proc/sys/kernel/osrelease)
  std::string osImage;                  // PRETTY_NAME of /etc/os-release (else /usr/lib/os-release)
  std::string hostname;                 // /proc/sys/kernel/hostname (uname -n)
  std::string architecture;             // GOARCH naming of this binary: amd64, arm64, arm, ...
  int64_t memoryCapacityBytes = 0;      // MemTotal of /proc/meminfo
  int32_t numCores = 0;                 // online logical CPUs
  std::vector<HugePageInfo> hugePages;  // one per supported page size, smallest first
  // Size of the filesystem holding the agent's root dir (f_blocks * f_frsize); unset
  // when it could not be measured (the Node is then NotReady, as upstream).
  std::optional<int64_t> ephemeralStorageBytes;
  bool operator==(const MachineInfo&) const = default;
};

struct MachineInfoOptions {
  // Prefix of every file read: "/" in production.
  std::string root = "/";
  // The directory whose filesystem is the node's ephemeral storage: --root-dir.
  std::string rootDir = "/var/lib/kubelet";
  // Size in bytes of the filesystem holding a path; statfs(2) when unset (tests inject).
  std::function<absl::StatusOr<int64_t>(const std::string& path)> filesystemCapacity;
};

// Fails only when a fact the Node cannot do without is missing (memory, CPUs);
// missing IDs become empty strings, as in cAdvisor.
absl::StatusOr<MachineInfo> readMachineInfo(const MachineInfoOptions& opts);

// Parses a Linux CPU list ("0-3,8,10-11") into a count; nullopt when malformed.
std::optional<int32_t> countCpuList(const std::string& list);

}  // namespace agent::node
