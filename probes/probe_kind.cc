#include "probes/probe_manager.h"

namespace probes {

const char* probeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
    case ProbeKind::kStartup:
      return "Startup";
  }
  return "Unknown";
}

}  // namespace probes
