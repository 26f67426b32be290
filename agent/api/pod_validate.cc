// validatePod: the API server's pod validation (k8s.io/kubernetes/pkg/apis/core/validation)
// for what a node agent depends on. Messages follow the API server's shapes
// ("<path>: Required value", "<path>: Invalid value: "x": why", "Duplicate value",
// "Unsupported value", "Not found") so users recognise them.
#include <initializer_list>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "agent/api/pod_decode.h"

namespace agent::api {
namespace {

class Errors {
 public:
  void add(absl::string_view path, absl::string_view body) {
    list_.push_back(absl::StrCat(path, ": ", body));
  }
  void required(absl::string_view path, absl::string_view detail = "") {
    add(path, detail.empty() ? "Required value" : absl::StrCat("Required value: ", detail));
  }
  void forbidden(absl::string_view path, absl::string_view detail) {
    add(path, absl::StrCat("Forbidden: ", detail));
  }
  void invalid(absl::string_view path, absl::string_view value, absl::string_view detail) {
    add(path, absl::StrCat("Invalid value: \"", value, "\": ", detail));
  }
  void invalid(absl::string_view path, int64_t value, absl::string_view detail) {
    add(path, absl::StrCat("Invalid value: ", value, ": ", detail));
  }
  void duplicate(absl::string_view path, absl::string_view value) {
    add(path, absl::StrCat("Duplicate value: \"", value, "\""));
  }
  void notFound(absl::string_view path, absl::string_view value) {
    add(path, absl::StrCat("Not found: \"", value, "\""));
  }
  // The value must be one of `supported`; reports it otherwise.
  void oneOf(absl::string_view path, absl::string_view value,
             std::initializer_list<absl::string_view> supported) {
    for (absl::string_view s : supported) {
      if (value == s) return;
    }
    std::vector<std::string> quoted;
    for (absl::string_view s : supported) quoted.push_back(absl::StrCat("\"", s, "\""));
    add(path, absl::StrCat("Unsupported value: \"", value,
                           "\": supported values: ", absl::StrJoin(quoted, ", ")));
  }
  absl::Status status() const {
    if (list_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(list_, "; "));
  }

 private:
  std::vector<std::string> list_;
};

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool isDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63 || !isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) {
    return false;
  }
  for (char c : s) {
    if (!isLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
bool isDnsSubdomain(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    absl::string_view label =
        s.substr(start, dot == absl::string_view::npos ? s.npos : dot - start);
    // Labels inside a subdomain are not themselves length-limited to 63.
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!isLowerAlnum(c) && c != '-') return false;
    }
    if (dot == absl::string_view::npos) return true;
    start = dot + 1;
  }
}

constexpr absl::string_view kLabelRule =
    "must be a lowercase RFC 1123 label: at most 63 lower case alphanumeric characters or "
    "'-', starting and ending with an alphanumeric character";
constexpr absl::string_view kSubdomainRule =
    "must be a lowercase RFC 1123 subdomain: at most 253 lower case alphanumeric characters, "
    "'-' or '.', starting and ending with an alphanumeric character";

// [-._a-zA-Z][-._a-zA-Z0-9]*
bool isEnvVarName(absl::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// IANA service name, as port names must be: at most 15 characters of [a-z0-9-], with
// at least one letter, no leading, trailing or doubled '-'.
bool isPortName(absl::string_view s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != absl::string_view::npos) return false;
  bool letter = false;
  for (char c : s) {
    if (!isLowerAlnum(c) && c != '-') return false;
    letter = letter || (c >= 'a' && c <= 'z');
  }
  return letter;
}

void checkPort(Errors& errs, const std::string& path, int64_t port, bool allowZero) {
  if ((port == 0 && allowZero) || (port >= 1 && port <= 65535)) return;
  if (port == 0) {
    errs.required(path);
  } else {
    errs.invalid(path, port, "must be between 1 and 65535, inclusive");
  }
}

void checkHandler(Errors& errs, const std::string& path, const Handler& h, bool probe) {
  int count = (h.exec ? 1 : 0) + (h.httpGet ? 1 : 0) + (h.tcpSocket ? 1 : 0) + (h.grpc ? 1 : 0) +
              (h.sleep ? 1 : 0);
  if (count == 0) errs.required(path, "must specify a handler type");
  if (count > 1) errs.forbidden(path, "may not specify more than 1 handler type");
  if (probe && h.sleep) errs.forbidden(absl::StrCat(path, ".sleep"), "not allowed in probes");
  if (!probe && h.grpc) errs.forbidden(absl::StrCat(path, ".grpc"), "not allowed in hooks");
  if (h.exec && h.exec->command.empty()) errs.required(absl::StrCat(path, ".exec.command"));
  if (h.httpGet) {
    errs.oneOf(absl::StrCat(path, ".httpGet.scheme"), h.httpGet->scheme, {"HTTP", "HTTPS"});
    if (!h.httpGet->port.isString) {
      checkPort(errs, absl::StrCat(path, ".httpGet.port"), h.httpGet->port.intValue, false);
    }
  }
  if (h.tcpSocket && !h.tcpSocket->port.isString) {
    checkPort(errs, absl::StrCat(path, ".tcpSocket.port"), h.tcpSocket->port.intValue, false);
  }
  if (h.grpc) checkPort(errs, absl::StrCat(path, ".grpc.port"), h.grpc->port, false);
  if (h.sleep && h.sleep->seconds < 0) {
    errs.invalid(absl::StrCat(path, ".sleep.seconds"), h.sleep->seconds,
                 "must be greater than or equal to 0");
  }
}

void checkProbe(Errors& errs, const std::string& path, const std::optional<Probe>& p,
                bool successMustBeOne) {
  if (!p) return;
  checkHandler(errs, path, p->handler, true);
  const std::pair<absl::string_view, int32_t> counters[] = {
      {"initialDelaySeconds", p->initialDelaySeconds},
      {"timeoutSeconds", p->timeoutSeconds},
      {"periodSeconds", p->periodSeconds},
      {"successThreshold", p->successThreshold},
      {"failureThreshold", p->failureThreshold},
  };
  for (const auto& [name, value] : counters) {
    if (value < 0) {
      errs.invalid(absl::StrCat(path, ".", name), value, "must be greater than or equal to 0");
    }
  }
  if (successMustBeOne && p->successThreshold != 1) {
    errs.invalid(absl::StrCat(path, ".successThreshold"), p->successThreshold, "must be 1");
  }
}

void checkResources(Errors& errs, const std::string& path, const ResourceRequirements& r) {
  for (const auto* list : {&r.limits, &r.requests}) {
    std::string listPath = absl::StrCat(path, list == &r.limits ? ".limits" : ".requests");
    for (const auto& [name, q] : *list) {
      if (q.milliValue() < 0) {
        errs.invalid(absl::StrCat(listPath, "[", name, "]"), q.str(),
                     "must be greater than or equal to 0");
      }
    }
  }
  for (const auto& [name, request] : r.requests) {
    auto limit = r.limits.find(name);
    if (limit != r.limits.end() && request.milliValue() > limit->second.milliValue()) {
      errs.invalid(
          absl::StrCat(path, ".requests[", name, "]"), request.str(),
          absl::StrCat("must be less than or equal to ", name, " limit of ", limit->second.str()));
    }
  }
}

void checkContainer(Errors& errs, const std::string& path, const Container& c, bool init,
                    const PodSpec& spec, std::set<std::string, std::less<>>& names,
                    const std::set<std::string, std::less<>>& volumes) {
  if (c.name.empty()) {
    errs.required(absl::StrCat(path, ".name"));
  } else if (!isDnsLabel(c.name)) {
    errs.invalid(absl::StrCat(path, ".name"), c.name, kLabelRule);
  } else if (!names.insert(c.name).second) {
    errs.duplicate(absl::StrCat(path, ".name"), c.name);
  }
  if (c.image.empty()) errs.required(absl::StrCat(path, ".image"));
  errs.oneOf(absl::StrCat(path, ".imagePullPolicy"), c.imagePullPolicy,
             {"Always", "IfNotPresent", "Never"});
  errs.oneOf(absl::StrCat(path, ".terminationMessagePolicy"), c.terminationMessagePolicy,
             {"File", "FallbackToLogsOnError"});
  if (c.restartPolicy) {
    if (init) {
      errs.oneOf(absl::StrCat(path, ".restartPolicy"), *c.restartPolicy, {"Always"});
    } else {
      errs.forbidden(absl::StrCat(path, ".restartPolicy"),
                     "may not be set for non-init containers");
    }
  }
  std::set<std::string, std::less<>> portNames;
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const ContainerPort& p = c.ports[i];
    std::string pp = absl::StrCat(path, ".ports[", i, "]");
    if (!p.name.empty()) {
      if (!isPortName(p.name)) {
        errs.invalid(absl::StrCat(pp, ".name"), p.name,
                     "must be an IANA service name: at most 15 characters of [a-z0-9-] with "
                     "at least one letter");
      } else if (!portNames.insert(p.name).second) {
        errs.duplicate(absl::StrCat(pp, ".name"), p.name);
      }
    }
    checkPort(errs, absl::StrCat(pp, ".containerPort"), p.containerPort, false);
    checkPort(errs, absl::StrCat(pp, ".hostPort"), p.hostPort, true);
    if (spec.hostNetwork && p.hostPort != 0 && p.hostPort != p.containerPort) {
      errs.invalid(absl::StrCat(pp, ".hostPort"), p.hostPort,
                   "must match `containerPort` when `hostNetwork` is true");
    }
    errs.oneOf(absl::StrCat(pp, ".protocol"), p.protocol, {"SCTP", "TCP", "UDP"});
  }
  for (size_t i = 0; i < c.env.size(); ++i) {
    const EnvVar& e = c.env[i];
    std::string ep = absl::StrCat(path, ".env[", i, "]");
    if (e.name.empty()) {
      errs.required(absl::StrCat(ep, ".name"));
    } else if (!isEnvVarName(e.name)) {
      errs.invalid(absl::StrCat(ep, ".name"), e.name,
                   "a valid environment variable name consists of letters, digits, '_', '-' "
                   "or '.', and does not start with a digit");
    }
    if (e.valueFrom) {
      const EnvVarSource& s = *e.valueFrom;
      int count = (s.fieldRef ? 1 : 0) + (s.resourceFieldRef ? 1 : 0) +
                  (s.configMapKeyRef ? 1 : 0) + (s.secretKeyRef ? 1 : 0);
      if (count != 1) {
        errs.invalid(absl::StrCat(ep, ".valueFrom"), "",
                     "must specify exactly one of: `fieldRef`, `resourceFieldRef`, "
                     "`configMapKeyRef` or `secretKeyRef`");
      }
      if (!e.value.empty()) {
        errs.invalid(absl::StrCat(ep, ".valueFrom"), "",
                     "may not be specified when `value` is not empty");
      }
    }
  }
  for (size_t i = 0; i < c.volumeMounts.size(); ++i) {
    const VolumeMount& m = c.volumeMounts[i];
    std::string mp = absl::StrCat(path, ".volumeMounts[", i, "]");
    if (m.name.empty()) {
      errs.required(absl::StrCat(mp, ".name"));
    } else if (!volumes.contains(m.name)) {
      errs.notFound(absl::StrCat(mp, ".name"), m.name);
    }
    if (m.mountPath.empty()) errs.required(absl::StrCat(mp, ".mountPath"));
  }
  checkResources(errs, absl::StrCat(path, ".resources"), c.resources);
  bool sidecar = init && c.restartPolicy == "Always";
  if (init && !sidecar) {
    const std::pair<absl::string_view, const std::optional<Probe>*> probes[] = {
        {"livenessProbe", &c.livenessProbe},
        {"readinessProbe", &c.readinessProbe},
        {"startupProbe", &c.startupProbe},
    };
    for (const auto& [name, probe] : probes) {
      if (probe->has_value()) {
        errs.forbidden(absl::StrCat(path, ".", name), "may not be set for init containers");
      }
    }
  } else {
    checkProbe(errs, absl::StrCat(path, ".livenessProbe"), c.livenessProbe, true);
    checkProbe(errs, absl::StrCat(path, ".readinessProbe"), c.readinessProbe, false);
    checkProbe(errs, absl::StrCat(path, ".startupProbe"), c.startupProbe, true);
  }
  if (c.lifecycle) {
    if (c.lifecycle->postStart) {
      checkHandler(errs, absl::StrCat(path, ".lifecycle.postStart"), *c.lifecycle->postStart,
                   false);
    }
    if (c.lifecycle->preStop) {
      checkHandler(errs, absl::StrCat(path, ".lifecycle.preStop"), *c.lifecycle->preStop, false);
    }
  }
}

void checkMode(Errors& errs, const std::string& path, const std::optional<int32_t>& mode) {
  if (mode && (*mode < 0 || *mode > 0777)) {
    errs.invalid(path, *mode, "must be a number between 0 and 0777 (octal), both inclusive");
  }
}

void checkVolume(Errors& errs, const std::string& path, const Volume& v,
                 std::set<std::string, std::less<>>& names) {
  if (v.name.empty()) {
    errs.required(absl::StrCat(path, ".name"));
  } else if (!isDnsLabel(v.name)) {
    errs.invalid(absl::StrCat(path, ".name"), v.name, kLabelRule);
  } else if (!names.insert(v.name).second) {
    errs.duplicate(absl::StrCat(path, ".name"), v.name);
  }
  size_t sources = (v.hostPath ? 1 : 0) + (v.emptyDir ? 1 : 0) + (v.configMap ? 1 : 0) +
                   (v.secret ? 1 : 0) + (v.downwardAPI ? 1 : 0) + (v.projected ? 1 : 0) +
                   (v.persistentVolumeClaim ? 1 : 0) + v.otherSources.size();
  if (sources == 0) errs.required(path, "must specify a volume type");
  if (sources > 1) errs.forbidden(path, "may not specify more than 1 volume type");
  if (v.hostPath && v.hostPath->path.empty()) errs.required(absl::StrCat(path, ".hostPath.path"));
  if (v.configMap) {
    if (v.configMap->name.empty()) errs.required(absl::StrCat(path, ".configMap.name"));
    checkMode(errs, absl::StrCat(path, ".configMap.defaultMode"), v.configMap->defaultMode);
  }
  if (v.secret) {
    if (v.secret->name.empty()) errs.required(absl::StrCat(path, ".secret.secretName"));
    checkMode(errs, absl::StrCat(path, ".secret.defaultMode"), v.secret->defaultMode);
  }
  if (v.persistentVolumeClaim && v.persistentVolumeClaim->claimName.empty()) {
    errs.required(absl::StrCat(path, ".persistentVolumeClaim.claimName"));
  }
}

// validateEphemeralContainers: container rules, names unique across every container
// list, a target among the regular containers, and only the fields of
// allowedEphemeralContainerFields (no ports, resources, probes, lifecycle, ...).
void checkEphemeralContainers(Errors& errs, const PodSpec& spec,
                              std::set<std::string, std::less<>>& names,
                              const std::set<std::string, std::less<>>& volumes) {
  std::set<std::string, std::less<>> targets;
  for (const auto* list : {&spec.initContainers, &spec.containers}) {
    for (const Container& c : *list) targets.insert(c.name);
  }
  constexpr char kNotAllowed[] = "cannot be set for an Ephemeral Container";
  for (size_t i = 0; i < spec.ephemeralContainers.size(); ++i) {
    const Container& c = spec.ephemeralContainers[i];
    const std::string path = absl::StrCat("spec.ephemeralContainers[", i, "]");
    // Its own restartPolicy check would say "non-init"; the allow-list below speaks.
    Container common = c;
    common.restartPolicy.reset();
    common.livenessProbe.reset();
    common.readinessProbe.reset();
    common.startupProbe.reset();
    checkContainer(errs, path, common, false, spec, names, volumes);
    if (!c.targetContainerName.empty() && !targets.contains(c.targetContainerName)) {
      errs.notFound(absl::StrCat(path, ".targetContainerName"), c.targetContainerName);
    }
    const std::pair<absl::string_view, bool> disallowed[] = {
        {"ports", !c.ports.empty()},
        {"resources", !c.resources.limits.empty() || !c.resources.requests.empty()},
        {"livenessProbe", c.livenessProbe.has_value()},
        {"readinessProbe", c.readinessProbe.has_value()},
        {"startupProbe", c.startupProbe.has_value()},
        {"lifecycle", c.lifecycle.has_value()},
        {"resizePolicy", !c.resizePolicy.empty()},
        {"restartPolicy", c.restartPolicy.has_value()},
    };
    for (const auto& [field, set] : disallowed) {
      if (set) errs.forbidden(absl::StrCat(path, ".", field), kNotAllowed);
    }
    for (size_t m = 0; m < c.volumeMounts.size(); ++m) {
      const std::string mp = absl::StrCat(path, ".volumeMounts[", m, "]");
      if (!c.volumeMounts[m].subPath.empty()) {
        errs.forbidden(absl::StrCat(mp, ".subPath"), kNotAllowed);
      }
      if (!c.volumeMounts[m].subPathExpr.empty()) {
        errs.forbidden(absl::StrCat(mp, ".subPathExpr"), kNotAllowed);
      }
    }
  }
}

}  // namespace

absl::Status validatePod(const Pod& pod) {
  Errors errs;
  const ObjectMeta& meta = pod.metadata;
  if (meta.name.empty()) {
    errs.required("metadata.name", "name or generateName is required");
  } else if (!isDnsSubdomain(meta.name)) {
    errs.invalid("metadata.name", meta.name, kSubdomainRule);
  }
  if (!meta.namespace_.empty() && !isDnsLabel(meta.namespace_)) {
    errs.invalid("metadata.namespace", meta.namespace_, kLabelRule);
  }

  const PodSpec& spec = pod.spec;
  std::set<std::string, std::less<>> volumeNames;
  for (size_t i = 0; i < spec.volumes.size(); ++i) {
    checkVolume(errs, absl::StrCat("spec.volumes[", i, "]"), spec.volumes[i], volumeNames);
  }
  std::set<std::string, std::less<>> containerNames;
  for (size_t i = 0; i < spec.initContainers.size(); ++i) {
    checkContainer(errs, absl::StrCat("spec.initContainers[", i, "]"), spec.initContainers[i], true,
                   spec, containerNames, volumeNames);
  }
  if (spec.containers.empty()) errs.required("spec.containers");
  for (size_t i = 0; i < spec.containers.size(); ++i) {
    checkContainer(errs, absl::StrCat("spec.containers[", i, "]"), spec.containers[i], false, spec,
                   containerNames, volumeNames);
  }
  checkEphemeralContainers(errs, spec, containerNames, volumeNames);
  errs.oneOf("spec.restartPolicy", spec.restartPolicy, {"Always", "OnFailure", "Never"});
  errs.oneOf("spec.dnsPolicy", spec.dnsPolicy,
             {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"});
  if (spec.dnsPolicy == "None" && !spec.dnsConfig) {
    errs.required("spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None");
  }
  if (spec.terminationGracePeriodSeconds < 0) {
    errs.invalid("spec.terminationGracePeriodSeconds", spec.terminationGracePeriodSeconds,
                 "must be greater than or equal to 0");
  }
  if (spec.activeDeadlineSeconds &&
      (*spec.activeDeadlineSeconds < 1 || *spec.activeDeadlineSeconds > 2147483647)) {
    errs.invalid("spec.activeDeadlineSeconds", *spec.activeDeadlineSeconds,
                 "must be between 1 and 2147483647, inclusive");
  }
  if (!spec.hostname.empty() && !isDnsLabel(spec.hostname)) {
    errs.invalid("spec.hostname", spec.hostname, kLabelRule);
  }
  if (!spec.subdomain.empty() && !isDnsLabel(spec.subdomain)) {
    errs.invalid("spec.subdomain", spec.subdomain, kLabelRule);
  }
  return errs.status();
}

}  // namespace agent::api
