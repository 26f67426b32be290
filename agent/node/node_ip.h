// The node's IP when --node-ip is not given: the address of the interface that
// carries the default route, else the first non-loopback address (the kubelet
// picks the default-route interface too). Loopback is accepted with a warning.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace agent::node {

absl::StatusOr<std::string> detectNodeIP();

}  // namespace agent::node
