#include "agent/volumes/payloads.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/env_fields.h"

namespace agent::volumes {
namespace {

constexpr size_t kMaxPathLength = 4096;
constexpr size_t kMaxFileNameLength = 255;

// Adds one file; `path` is checked and cleaned first.
absl::Status addFile(::volumes::Payload& payload, const std::string& path, std::string data,
                     int32_t mode) {
  if (absl::Status s = checkPayloadPath(path); !s.ok()) return s;
  payload[cleanPayloadPath(path)] = ::volumes::FileProjection{std::move(data), mode, std::nullopt};
  return absl::OkStatus();
}

absl::Status checkItemModes(const std::vector<api::KeyToPath>& items, const std::string& field) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].mode) {
      absl::Status s = checkMode(absl::StrCat(field, ".items[", i, "].mode"), *items[i].mode);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// `lookup(key)` returns the value of a key of the object, or nullptr.
template <typename Lookup, typename AllKeys>
absl::StatusOr<::volumes::Payload> makePayload(const std::vector<api::KeyToPath>& items,
                                               bool exists, int32_t defaultMode, bool optional,
                                               const std::string& field, const Lookup& lookup,
                                               const AllKeys& allKeys,
                                               const std::string& missingKeyMessage) {
  if (absl::Status s = checkItemModes(items, field); !s.ok()) return s;
  ::volumes::Payload payload;
  if (!exists) return payload;
  if (items.empty()) {
    absl::Status status = absl::OkStatus();
    allKeys([&](const std::string& key, const std::string& value) {
      if (status.ok()) status = addFile(payload, key, value, defaultMode);
    });
    if (!status.ok()) return status;
    return payload;
  }
  for (const api::KeyToPath& item : items) {
    const std::string* value = lookup(item.key);
    if (value == nullptr) {
      if (optional) continue;
      return absl::InvalidArgumentError(absl::StrCat(missingKeyMessage, item.key));
    }
    absl::Status s = addFile(payload, item.path, *value, item.mode.value_or(defaultMode));
    if (!s.ok()) return s;
  }
  return payload;
}

const std::string* find(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

// The fields ExtractFieldPathAsString serves for volumes (metadata only).
bool volumeFieldPath(const std::string& path) {
  static const std::set<std::string> kPlain = {"metadata.name", "metadata.namespace",
                                               "metadata.uid", "metadata.labels",
                                               "metadata.annotations"};
  if (kPlain.count(path) > 0) return true;
  for (std::string_view prefix : {"metadata.labels['", "metadata.annotations['"}) {
    if (path.starts_with(prefix) && path.ends_with("']") && path.size() > prefix.size() + 2) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status checkPayloadPath(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("invalid path: must not be empty: \"\"");
  if (path.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("invalid path: must be relative path: ", path));
  }
  if (path.size() > kMaxPathLength) {
    return absl::InvalidArgumentError(absl::StrCat("invalid path: must be less than or equal to ",
                                                   kMaxPathLength, " characters"));
  }
  std::vector<absl::string_view> elems = absl::StrSplit(path, '/');
  for (absl::string_view e : elems) {
    if (e == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid path: must not contain '..': ", path));
    }
    if (e.size() > kMaxFileNameLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid path: filenames must be less than or equal to ", kMaxFileNameLength,
                       " characters"));
    }
  }
  if (absl::StartsWith(elems[0], "..") && elems[0].size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid path: must not start with '..': ", path));
  }
  // "." (or "./") would name the volume directory itself.
  if (cleanPayloadPath(path) == ".") {
    return absl::InvalidArgumentError(absl::StrCat("invalid path: must name a file: ", path));
  }
  return absl::OkStatus();
}

std::string cleanPayloadPath(const std::string& path) {
  std::vector<absl::string_view> kept;
  for (absl::string_view e : absl::StrSplit(path, '/')) {
    if (e.empty() || e == ".") continue;
    kept.push_back(e);
  }
  return kept.empty() ? "." : absl::StrJoin(kept, "/");
}

absl::Status checkMode(const std::string& field, int32_t mode) {
  if (mode < 0 || mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": Invalid value: ", mode,
                     ": must be a number between 0 and 0777 (octal), both inclusive"));
  }
  return absl::OkStatus();
}

absl::StatusOr<::volumes::Payload> configMapPayload(const std::vector<api::KeyToPath>& items,
                                                    const api::ConfigMap* cm, int32_t defaultMode,
                                                    bool optional, const std::string& field) {
  static const std::map<std::string, std::string> kEmpty;
  const auto& data = cm ? cm->data : kEmpty;
  const auto& binary = cm ? cm->binaryData : kEmpty;
  return makePayload(
      items, cm != nullptr, defaultMode, optional, field,
      [&](const std::string& key) {
        const std::string* v = find(data, key);
        return v != nullptr ? v : find(binary, key);
      },
      [&](const auto& add) {
        // binaryData after data, as upstream: a key in both (rejected by the API) ends
        // up with the binary value.
        for (const auto& [k, v] : data) add(k, v);
        for (const auto& [k, v] : binary) add(k, v);
      },
      "configmap references non-existent config key: ");
}

absl::StatusOr<::volumes::Payload> secretPayload(const std::vector<api::KeyToPath>& items,
                                                 const api::Secret* secret, int32_t defaultMode,
                                                 bool optional, const std::string& field) {
  static const std::map<std::string, std::string> kEmpty;
  const auto& data = secret ? secret->data : kEmpty;
  return makePayload(
      items, secret != nullptr, defaultMode, optional, field,
      [&](const std::string& key) { return find(data, key); },
      [&](const auto& add) {
        for (const auto& [k, v] : data) add(k, v);
      },
      "references non-existent secret key: ");
}

absl::StatusOr<::volumes::Payload> downwardAPIPayload(
    const std::vector<api::DownwardAPIVolumeFile>& items, const api::Pod& pod,
    const std::map<std::string, api::Quantity>& allocatable, int32_t defaultMode,
    const std::string& field) {
  std::vector<std::string> errors;
  ::volumes::Payload payload;
  const runtime::PodAddresses noAddresses;
  for (size_t i = 0; i < items.size(); ++i) {
    const api::DownwardAPIVolumeFile& item = items[i];
    if (item.mode) {
      absl::Status s = checkMode(absl::StrCat(field, ".items[", i, "].mode"), *item.mode);
      if (!s.ok()) return s;
    }
    absl::StatusOr<std::string> value = std::string();
    if (item.fieldRef) {
      if (!volumeFieldPath(item.fieldRef->fieldPath)) {
        value = absl::InvalidArgumentError("unsupported fieldPath: " + item.fieldRef->fieldPath);
      } else {
        value = runtime::fieldRefValue(*item.fieldRef, pod, noAddresses);
      }
    } else if (item.resourceFieldRef) {
      // The container is named in a volume (there is no "self"); upstream looks it up
      // the same way and fails the same way when it is not there.
      const api::Container* c = nullptr;
      for (const auto* list : {&pod.spec.containers, &pod.spec.initContainers}) {
        for (const auto& candidate : *list) {
          if (c == nullptr && candidate.name == item.resourceFieldRef->containerName) {
            c = &candidate;
          }
        }
      }
      if (c == nullptr) {
        value = absl::InvalidArgumentError(
            absl::StrCat("container ", item.resourceFieldRef->containerName, " not found"));
      } else {
        value = runtime::resourceFieldValue(*item.resourceFieldRef, pod, *c, allocatable);
      }
    }
    if (!value.ok()) {
      errors.emplace_back(value.status().message());
      continue;
    }
    absl::Status s =
        addFile(payload, item.path, std::move(*value), item.mode.value_or(defaultMode));
    if (!s.ok()) errors.emplace_back(s.message());
  }
  if (!errors.empty()) return absl::InvalidArgumentError(aggregateErrors(errors));
  return payload;
}

std::string aggregateErrors(const std::vector<std::string>& errors) {
  if (errors.size() == 1) return errors[0];
  std::set<std::string> seen;
  std::vector<std::string> unique;
  for (const std::string& e : errors) {
    if (seen.insert(e).second) unique.push_back(e);
  }
  if (unique.size() <= 1) return absl::StrJoin(unique, "");
  return absl::StrCat("[", absl::StrJoin(unique, ", "), "]");
}

}  // namespace agent::volumes
