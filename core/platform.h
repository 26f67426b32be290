// Facts about the platform this binary was built for.
#pragma once

#include <string>

namespace core {

// The architecture as Go names it (GOARCH: amd64, arm64, ...): what Kubernetes
// reports in kubernetes.io/arch, nodeInfo.architecture and user agents.
std::string goArch();

}  // namespace core
