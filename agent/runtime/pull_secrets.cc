#include "agent/runtime/pull_secrets.h"

#include <fnmatch.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cri/image_ref.h"

namespace agent::runtime {
namespace {

constexpr char kDockerConfigJsonKey[] = ".dockerconfigjson";
constexpr char kDockercfgKey[] = ".dockercfg";
// Docker Hub's key in docker config files ("https://index.docker.io/v1/" becomes this).
constexpr char kDefaultRegistryHost[] = "index.docker.io";
// Docker Hub's API host; not a kubelet key, but configs written by hand use it.
constexpr char kDockerHubApiHost[] = "registry-1.docker.io";

struct Url {
  std::string host;  // with port
  std::string path;  // "" or starting with '/'
};

// A schemeless registry URL (`host[:port][/path]`).
Url splitUrl(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return {std::string(s), ""};
  return {std::string(s.substr(0, slash)), std::string(s.substr(slash))};
}

// Host parts and port, as net.SplitHostPort would split them (no port on failure).
std::pair<std::vector<std::string>, std::string> hostParts(const std::string& hostport) {
  std::string host = hostport, port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close != std::string::npos && close + 1 < hostport.size() && hostport[close + 1] == ':') {
      host = hostport.substr(1, close - 1);
      port = hostport.substr(close + 2);
    }
  } else if (std::count(hostport.begin(), hostport.end(), ':') == 1) {
    size_t colon = hostport.find(':');
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  return {absl::StrSplit(host, '.'), port};
}

// Docker Hub images: no registry part, or docker.io / index.docker.io, or a first
// component that cannot be a host (no '.' or ':').
bool isDefaultRegistryMatch(const std::string& image) {
  std::vector<std::string> parts = absl::StrSplit(image, absl::MaxSplits('/', 1));
  if (parts[0].empty()) return false;
  if (parts.size() == 1) return true;
  if (parts[0] == "docker.io" || parts[0] == kDefaultRegistryHost) return true;
  return parts[0].find_first_of(".:") == std::string::npos;
}

// A config entry's key -> keyring key: scheme dropped, "/v1/" and "/v2/" path prefixes
// mean the registry root.
std::string keyFor(std::string_view loc) {
  if (loc.starts_with("https://")) {
    loc.remove_prefix(8);
  } else if (loc.starts_with("http://")) {
    loc.remove_prefix(7);
  }
  Url u = splitUrl(loc);
  std::string path = u.path;
  if (path.starts_with("/v2/") || path.starts_with("/v1/")) path = path.substr(3);
  if (!path.empty() && path != "/") return u.host + path;
  return u.host;
}

absl::StatusOr<::runtime::v1::AuthConfig> parseEntry(const std::string& loc,
                                                     const nlohmann::json& e) {
  if (!e.is_object()) return absl::InvalidArgumentError("auths[" + loc + "]: expected object");
  auto str = [&](const char* field) -> absl::StatusOr<std::string> {
    auto it = e.find(field);
    if (it == e.end() || it->is_null()) return std::string();
    if (!it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auths[", loc, "].", field, ": expected string"));
    }
    return it->get<std::string>();
  };
  ::runtime::v1::AuthConfig a;
  for (auto [field, setter] :
       {std::pair<const char*, void (::runtime::v1::AuthConfig::*)(const std::string&)>{
            "username", &::runtime::v1::AuthConfig::set_username},
        {"password", &::runtime::v1::AuthConfig::set_password},
        {"identitytoken", &::runtime::v1::AuthConfig::set_identity_token},
        {"registrytoken", &::runtime::v1::AuthConfig::set_registry_token}}) {
    auto v = str(field);
    if (!v.ok()) return v.status();
    (a.*setter)(*v);
  }
  auto auth = str("auth");
  if (!auth.ok()) return auth.status();
  if (!auth->empty()) {
    std::string decoded;
    std::vector<std::string> userPass;
    if (absl::Base64Unescape(*auth, &decoded)) {
      userPass = absl::StrSplit(decoded, absl::MaxSplits(':', 1));
    }
    if (userPass.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("auths[", loc,
                       "].auth: unable to parse auth field, must be formatted as "
                       "base64(username:password)"));
    }
    a.set_username(userPass[0]);
    a.set_password(userPass[1]);
  }
  return a;
}

}  // namespace

std::vector<std::string> pullSecretNames(const api::Pod& pod) {
  std::vector<std::string> names;
  for (const auto& n : pod.spec.imagePullSecrets) {
    if (!n.empty()) names.push_back(n);
  }
  return names;
}

bool registryKeyMatches(std::string_view glob, std::string_view target) {
  Url g = splitUrl(glob), t = splitUrl(target);
  auto [gParts, gPort] = hostParts(g.host);
  auto [tParts, tPort] = hostParts(t.host);
  if (gPort != tPort || gParts.size() != tParts.size()) return false;
  if (!t.path.starts_with(g.path)) return false;  // the key's path is a prefix
  for (size_t i = 0; i < gParts.size(); ++i) {
    if (::fnmatch(gParts[i].c_str(), tParts[i].c_str(), 0) != 0) return false;
  }
  return true;
}

absl::Status DockerKeyring::add(std::string_view json, bool legacyDockercfg) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  const nlohmann::json* auths = &doc;
  if (!legacyDockercfg) {
    if (!doc.is_object()) return absl::InvalidArgumentError("expected a JSON object");
    auto it = doc.find("auths");
    if (it == doc.end() || it->is_null()) return absl::OkStatus();
    auths = &*it;
  }
  if (!auths->is_object()) {
    return absl::InvalidArgumentError(legacyDockercfg ? "expected a JSON object"
                                                      : "auths: expected object");
  }
  std::vector<std::pair<std::string, ::runtime::v1::AuthConfig>> added;
  for (const auto& [loc, entry] : auths->items()) {
    auto a = parseEntry(loc, entry);
    if (!a.ok()) return a.status();
    added.emplace_back(keyFor(loc), std::move(*a));
  }
  for (auto& kv : added) creds_.push_back(std::move(kv));
  rebuildIndex();
  return absl::OkStatus();
}

absl::Status DockerKeyring::addSecret(const api::Secret& secret) {
  bool legacy = secret.type == api::kSecretTypeDockercfg;
  if (!legacy && secret.type != api::kSecretTypeDockerConfigJson) return absl::OkStatus();
  auto it = secret.data.find(legacy ? kDockercfgKey : kDockerConfigJsonKey);
  if (it == secret.data.end() || it->second.empty()) return absl::OkStatus();
  absl::Status s = add(it->second, legacy);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret ", secret.metadata.namespace_, "/", secret.metadata.name, ": ",
                     legacy ? kDockercfgKey : kDockerConfigJsonKey, ": ", s.message()));
  }
  return absl::OkStatus();
}

void DockerKeyring::rebuildIndex() {
  index_.clear();
  for (const auto& [key, cred] : creds_) index_.push_back(key);
  std::sort(index_.begin(), index_.end(), std::greater<>());
  index_.erase(std::unique(index_.begin(), index_.end()), index_.end());
}

std::vector<::runtime::v1::AuthConfig> DockerKeyring::lookup(std::string_view image) const {
  // The kubelet looks up the repository without tag or digest, fully qualified.
  std::string repo(image);
  if (auto ref = cri::parseImageRef(image); ref.ok()) repo = ref->domain + "/" + ref->path;

  std::vector<::runtime::v1::AuthConfig> out;
  auto credsFor = [&](std::string_view key) {
    for (const auto& [k, cred] : creds_) {
      if (k == key) out.push_back(cred);
    }
  };
  for (const std::string& key : index_) {
    if (registryKeyMatches(key, repo)) credsFor(key);
  }
  if (out.empty() && isDefaultRegistryMatch(repo)) {
    credsFor(kDefaultRegistryHost);
    if (out.empty()) credsFor(kDockerHubApiHost);
  }
  return out;
}

PullCredentials pullCredentials(const api::Pod& pod, const EnvSources* sources,
                                std::string_view image) {
  PullCredentials result;
  std::vector<std::string> names = pullSecretNames(pod);
  if (names.empty()) return result;
  DockerKeyring keyring;
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    const api::Secret* secret = nullptr;
    if (sources != nullptr) {
      auto it = sources->secrets.find(name);
      if (it != sources->secrets.end()) secret = it->second.get();
    }
    if (secret == nullptr) {
      missing.push_back(name);
      continue;
    }
    if (absl::Status s = keyring.addSecret(*secret); !s.ok()) {
      result.warnings.push_back({kFailedToRetrieveImagePullSecret, std::string(s.message())});
    }
  }
  if (!missing.empty()) {
    result.warnings.push_back(
        {kFailedToRetrieveImagePullSecret,
         absl::StrCat("Unable to retrieve some image pull secrets (", absl::StrJoin(missing, ", "),
                      "); attempting to pull the image may not succeed.")});
  }
  result.auths = keyring.lookup(image);
  return result;
}

}  // namespace agent::runtime
