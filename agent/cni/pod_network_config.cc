#include "agent/cni/pod_network_config.h"

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace agent::cni {

// What one job on the pool found and did.
struct PodNetworkConfig::Result {
  std::string cidrs;   // joined; "" while the node has none
  bool addon = false;  // another config owns the network
  std::string reason;  // event reason of `error`; "" for no event
  std::string error;
  bool written = false;  // our conflist was (re)written
  bool runtimeCalled = false;
  absl::Status runtimeStatus;
};

namespace {

std::vector<std::string> splitCidrs(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

}  // namespace

PodNetworkConfig::PodNetworkConfig(core::EventLoop& loop, core::WorkerPool& pool,
                                   cri::RuntimeService& runtime, PodNetworkOptions opts)
    : loop_(loop),
      pool_(pool),
      runtime_(runtime),
      opts_(std::move(opts)),
      retryBackoff_(opts_.retryInitial, opts_.retryMax) {
  if (!opts_.hostNetworks) opts_.hostNetworks = [] { return network::hostNetworks(); };
  if (opts_.fromNode) {
    error_ = "no pod CIDR assigned to node " + opts_.nodeName + " yet (spec.podCIDRs)";
  }
}

PodNetworkConfig::~PodNetworkConfig() { *alive_ = false; }

std::vector<std::string> PodNetworkConfig::nodeErrors() const {
  if (error_.empty()) return {};
  return {"network plugin not ready: " + error_};
}

void PodNetworkConfig::start() {
  started_ = true;
  apply();
}

void PodNetworkConfig::setNodePodCidrs(std::vector<std::string> cidrs) {
  if (!opts_.fromNode) return;
  // Unset again (only a recreated Node can do that): keep what was configured.
  if (cidrs.empty()) return;
  if (nodeCidrs_ && *nodeCidrs_ == cidrs) return;
  LOG_INFO << "Node " << opts_.nodeName << " pod CIDRs: " << absl::StrJoin(cidrs, ",");
  nodeCidrs_ = std::move(cidrs);
  if (started_) apply();
}

void PodNetworkConfig::apply() {
  if (busy_) {
    pending_ = true;
    return;
  }
  busy_ = true;
  pending_ = false;
  std::optional<std::vector<std::string>> cidrs;
  std::string field = "spec.podCIDRs";
  if (opts_.fromNode) {
    cidrs = nodeCidrs_;
  } else {
    field = "--pod-cidr";
    cidrs = splitCidrs(opts_.podCidr);
    if (cidrs->empty()) cidrs = std::vector<std::string>{network::kDefaultPodCidr};
  }
  std::string runtimeCidr = runtimeCidr_;
  auto alive = alive_;
  // Jobs reach the options and the runtime by copies and references of their own.
  pool_.submit(
      [this, &loop = loop_, &rt = runtime_, opts = opts_, cidrs, field, runtimeCidr, alive] {
        Result r;
        if (cidrs) r.cidrs = absl::StrJoin(*cidrs, ",");
        auto fail = [&](const char* reason, std::string error) {
          r.reason = reason;
          r.error = std::move(error);
          if (absl::Status s = network::removeCniConfig(opts.confDir); !s.ok()) {
            LOG_WARNING << "removing the CNI config: " << s.message();
          }
        };
        r.addon = network::addonCniConfigPresent(opts.confDir);
        if (r.addon) {
          // Ours would sort before an add-on's "10-<name>.conflist" and win: it goes.
          if (absl::Status s = network::removeCniConfig(opts.confDir); !s.ok()) {
            LOG_WARNING << "removing the CNI config: " << s.message();
          }
        } else if (auto missing = network::missingCniPlugins(opts.binDir); !missing.empty()) {
          fail(kMissingCniPlugin, "CNI plugin" + std::string(missing.size() > 1 ? "s " : " ") +
                                      absl::StrJoin(missing, ", ") + " not found in " +
                                      opts.binDir + " (--cni-bin-dir)");
        } else if (!cidrs) {
          r.error = "no pod CIDR assigned to node " + opts.nodeName + " yet (spec.podCIDRs)";
        } else if (absl::Status v = network::validatePodCidrs(*cidrs, opts.hostNetworks(),
                                                              network::kDefaultBridge, field);
                   !v.ok()) {
          fail(kInvalidPodCidr, std::string(v.message()));
        } else {
          network::CniConfigInput in;
          in.podCidrs = *cidrs;
          in.ipMasq = opts.ipMasq;
          network::CniConfigResult res = network::CniConfigResult::kUnchanged;
          if (absl::Status s = network::ensureCniConfig(opts.confDir, in, &res); !s.ok()) {
            fail(kFailedCniConfig, std::string(s.message()));
          } else {
            r.addon = res == network::CniConfigResult::kOwnedByAddon;
            r.written = res == network::CniConfigResult::kWritten;
          }
        }
        // The kubelet tells the runtime the node's CIDRs whoever owns the network.
        if (r.error.empty() && !r.cidrs.empty() && r.cidrs != runtimeCidr) {
          r.runtimeCalled = true;
          r.runtimeStatus = rt.updateRuntimeConfig(r.cidrs);
        }
        loop.post([this, alive, r = std::move(r)]() mutable {
          if (*alive) onApplied(std::move(r));
        });
      });
}

void PodNetworkConfig::onApplied(Result r) {
  busy_ = false;
  bool changed = r.written;
  if (r.addon) {
    if (!addonLogged_) {
      LOG_INFO << "CNI config dir " << opts_.confDir
               << " holds a network add-on's config; leaving networking to it";
      addonLogged_ = true;
    }
  } else {
    addonLogged_ = false;
  }
  if (r.written) {
    LOG_INFO << "Wrote CNI config " << opts_.confDir << "/" << network::kCniConfigFile
             << " for pod CIDRs " << r.cidrs;
  }
  std::string before = error_;
  setError(r.reason, r.error);
  changed = changed || before != error_;
  if (r.runtimeCalled) {
    if (r.runtimeStatus.ok()) {
      LOG_INFO << "Updating Pod CIDR: original \"" << runtimeCidr_ << "\", new \"" << r.cidrs
               << "\"";
      runtimeCidr_ = r.cidrs;
      retryBackoff_.reset();
    } else {
      core::Duration delay = retryBackoff_.nextDelay();
      LOG_WARNING << "failed to update pod CIDR " << r.cidrs << ": " << r.runtimeStatus.message()
                  << "; retrying in " << delay.count() << "ms";
      if (!retry_) {
        retry_ = loop_.createTimer([this] { apply(); });
      }
      retry_->enableTimer(delay);
    }
  }
  if (changed && onChanged_) onChanged_();
  if (pending_) {
    apply();
  } else if (opts_.recheckInterval.count() > 0) {
    if (!recheck_) recheck_ = loop_.createTimer([this] { apply(); });
    recheck_->enableTimer(opts_.recheckInterval);
  }
}

void PodNetworkConfig::setError(std::string reason, std::string error) {
  if (error == error_) return;
  error_ = std::move(error);
  if (error_.empty()) {
    LOG_INFO << "CNI config in " << opts_.confDir << " is in place";
    lastEventError_.clear();
    return;
  }
  LOG_WARNING << "pod network not configured: " << error_
              << "; pods without hostNetwork wait for it";
  if (!reason.empty() && error_ != lastEventError_) {
    lastEventError_ = error_;
    if (onWarning_) onWarning_(reason, error_);
  }
}

}  // namespace agent::cni
