#include "tests/fakeapi/ephemeral_containers.h"

#include <regex>
#include <set>

#include "tests/fakeapi/api_errors.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

json listOf(const json& pod, const char* list) {
  json c = pod.value("spec", json::object()).value(list, json::array());
  return c.is_array() ? c : json::array();
}

void appendCause(std::string& causes, const std::string& cause) {
  causes += (causes.empty() ? "" : ", ") + cause;
}

bool isDnsLabel(const std::string& s) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return !s.empty() && s.size() <= 63 && std::regex_match(s, kLabel);
}

// A field Go would see as set: present, not null and not empty.
bool isSet(const json& c, const char* field) {
  if (!c.contains(field) || c[field].is_null()) return false;
  const json& v = c[field];
  if (v.is_array() || v.is_string()) return !v.empty();
  if (v.is_object()) {
    // resources: {} (or with empty lists) is the zero ResourceRequirements.
    for (const auto& [k, sub] : v.items()) {
      if (!sub.is_null() && !sub.empty()) return true;
    }
    return false;
  }
  return true;
}

// validateEphemeralContainers for one container at `at`; `allNames` collects names.
void checkNew(const json& c, const std::string& at, const std::set<std::string>& otherNames,
              std::set<std::string>& allNames, std::string& causes) {
  const std::string name = c.value("name", "");
  if (name.empty()) {
    appendCause(causes, at + ".name: Required value");
  } else if (!isDnsLabel(name)) {
    appendCause(causes, at + ".name: Invalid value: \"" + name +
                            "\": a lowercase RFC 1123 label must consist of lower case "
                            "alphanumeric characters or '-', and must start and end with an "
                            "alphanumeric character");
  } else if (!allNames.insert(name).second) {
    appendCause(causes, at + ".name: Duplicate value: \"" + name + "\"");
  }
  if (c.value("image", "").empty()) appendCause(causes, at + ".image: Required value");
  const std::string target = c.value("targetContainerName", "");
  if (!target.empty() && !otherNames.count(target)) {
    appendCause(causes, at + ".targetContainerName: Not found: \"" + target + "\"");
  }
  // allowedEphemeralContainerFields: these are false.
  for (const char* field : {"ports", "resources", "livenessProbe", "readinessProbe", "startupProbe",
                            "lifecycle", "resizePolicy", "restartPolicy"}) {
    if (isSet(c, field)) {
      appendCause(causes,
                  at + "." + field + ": Forbidden: cannot be set for an Ephemeral Container");
    }
  }
  json mounts = c.value("volumeMounts", json::array());
  for (size_t i = 0; mounts.is_array() && i < mounts.size(); ++i) {
    for (const char* field : {"subPath", "subPathExpr"}) {
      if (mounts[i].is_object() && isSet(mounts[i], field)) {
        appendCause(causes, at + ".volumeMounts[" + std::to_string(i) + "]." + field +
                                ": Forbidden: cannot be set for an Ephemeral Container");
      }
    }
  }
}

}  // namespace

void prepareEphemeralContainers(json& obj, const json& old) {
  json next = old;
  json sent = obj.value("spec", json::object()).value("ephemeralContainers", json());
  if (sent.is_null() || (sent.is_array() && sent.empty())) {
    next["spec"].erase("ephemeralContainers");
  } else {
    next["spec"]["ephemeralContainers"] = sent;
  }
  obj = std::move(next);
}

absl::Status validateEphemeralContainers(const ResourceInfo& r, const std::string& name,
                                         const json& obj, const json& old) {
  const json annotations = old.value("metadata", json::object()).value("annotations", json());
  if (annotations.is_object() && annotations.contains("kubernetes.io/config.mirror")) {
    return invalid(r, name, "Forbidden: static pods do not support ephemeral containers");
  }
  std::string causes;
  json sent = obj.value("spec", json::object()).value("ephemeralContainers", json::array());
  if (!sent.is_array()) {
    return invalid(r, name, "spec.ephemeralContainers: Invalid value: must be a list");
  }
  std::set<std::string> otherNames;
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& c : listOf(obj, list)) otherNames.insert(c.value("name", ""));
  }
  std::set<std::string> allNames = otherNames;
  for (size_t i = 0; i < sent.size(); ++i) {
    const std::string at = "spec.ephemeralContainers[" + std::to_string(i) + "]";
    if (!sent[i].is_object()) {
      appendCause(causes, at + ": Invalid value: must be an object");
      continue;
    }
    checkNew(sent[i], at, otherNames, allNames, causes);
  }
  // Existing ones may be neither removed nor changed (order is not kept by patches).
  for (const auto& before : listOf(old, "ephemeralContainers")) {
    const std::string n = before.value("name", "");
    const json* now = nullptr;
    for (const auto& c : sent) {
      if (c.is_object() && c.value("name", "") == n) now = &c;
    }
    if (!now) {
      appendCause(causes, "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"" +
                              n + "\" may not be removed");
    } else if (*now != before) {
      appendCause(causes, "spec.ephemeralContainers[" + n +
                              "]: Forbidden: existing ephemeral containers \"" + n +
                              "\" may not be changed");
    }
  }
  if (causes.empty()) return absl::OkStatus();
  return invalid(r, name, causes);
}

}  // namespace cubelet::fakeapi
