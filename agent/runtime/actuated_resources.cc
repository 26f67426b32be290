#include "agent/runtime/actuated_resources.h"

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace agent::runtime {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

std::map<std::string, api::Quantity> pick(const std::map<std::string, api::Quantity>& l) {
  std::map<std::string, api::Quantity> out;
  for (const char* name : {"cpu", "memory"}) {
    if (auto it = l.find(name); it != l.end()) out.emplace(name, it->second);
  }
  return out;
}

json encodeList(const std::map<std::string, api::Quantity>& l) {
  json out = json::object();
  for (const auto& [k, q] : l) out[k] = q.str();
  return out;
}

absl::Status decodeList(const json& j, const std::string& where,
                        std::map<std::string, api::Quantity>* out) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return absl::InvalidArgumentError(where + ": not an object");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return absl::InvalidArgumentError(where + "." + k + ": not a string");
    auto q = api::Quantity::parse(v.get<std::string>());
    if (!q.ok()) {
      return absl::InvalidArgumentError(where + "." + k + ": " + std::string(q.status().message()));
    }
    (*out)[k] = *q;
  }
  return absl::OkStatus();
}

}  // namespace

api::ResourceRequirements cpuAndMemory(const api::ResourceRequirements& r) {
  api::ResourceRequirements out;
  out.requests = pick(r.requests);
  out.limits = pick(r.limits);
  return out;
}

ActuatedResources::ActuatedResources(std::string path) : path_(std::move(path)) {}

absl::Status ActuatedResources::load() {
  if (path_.empty()) return absl::OkStatus();
  auto text = core::readFile(path_);
  if (!text.ok()) return absl::IsNotFound(text.status()) ? absl::OkStatus() : text.status();
  json j = json::parse(*text, nullptr, false);
  auto bad = [&](const std::string& why) {
    return absl::DataLossError("checkpoint " + path_ + ": " + why);
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (j.value("version", 0) != kVersion) return bad("unknown version");
  const json containers = j.value("containers", json::object());
  if (!containers.is_object()) return bad("containers: not an object");
  std::map<std::string, Entry> loaded;
  for (const auto& [id, v] : containers.items()) {
    if (!v.is_object()) return bad("containers." + id + ": not an object");
    Entry e;
    const std::string where = "containers." + id;
    if (absl::Status s =
            decodeList(v.value("requests", json()), where + ".requests", &e.resources.requests);
        !s.ok())
      return bad(std::string(s.message()));
    if (absl::Status s =
            decodeList(v.value("limits", json()), where + ".limits", &e.resources.limits);
        !s.ok())
      return bad(std::string(s.message()));
    loaded[id] = std::move(e);
  }
  std::lock_guard<std::mutex> lock(mu_);
  entries_ = std::move(loaded);
  return absl::OkStatus();
}

std::optional<api::ResourceRequirements> ActuatedResources::get(
    const std::string& containerId) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(containerId);
  if (it == entries_.end()) return std::nullopt;
  return it->second.resources;
}

absl::Status ActuatedResources::set(const std::string& containerId,
                                    const api::ResourceRequirements& r) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[containerId] = {cpuAndMemory(r), std::chrono::steady_clock::now()};
  return writeLocked();
}

absl::Status ActuatedResources::retain(const std::function<bool(const std::string& id)>& live,
                                       std::chrono::steady_clock::time_point listedAt) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t gone = std::erase_if(
      entries_, [&](const auto& kv) { return kv.second.recordedAt < listedAt && !live(kv.first); });
  return gone == 0 ? absl::OkStatus() : writeLocked();
}

absl::Status ActuatedResources::writeLocked() const {
  if (path_.empty()) return absl::OkStatus();
  json containers = json::object();
  for (const auto& [id, e] : entries_) {
    containers[id] = {{"requests", encodeList(e.resources.requests)},
                      {"limits", encodeList(e.resources.limits)}};
  }
  json j = {{"version", kVersion}, {"containers", std::move(containers)}};
  return core::writeFileAtomic(path_, j.dump(), 0600);
}

}  // namespace agent::runtime
