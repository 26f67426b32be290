#include "agent/kubeapi/kubeconfig.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/json_decode.h"
#include "core/log.h"
#include "core/status.h"
#include "core/yaml_json.h"

namespace agent::kubeapi {
namespace {

using core::JsonField;

// A named entry of clusters/users/contexts and the field holding its body.
struct Named {
  std::string name;
  JsonField body;
};

// Finds the entry named `name` in the list `listKey` ("clusters") whose bodies sit
// under `bodyKey` ("cluster").
absl::StatusOr<std::optional<Named>> findNamed(const JsonField& root, std::string_view listKey,
                                               std::string_view bodyKey, const std::string& name) {
  JsonField list = root[listKey];
  RETURN_IF_ERROR(list.expectArray());
  if (!list.isSet()) return std::optional<Named>();
  for (size_t i = 0; i < list.value()->size(); ++i) {
    JsonField item = list.at(i);
    RETURN_IF_ERROR(item.expectObject());
    std::string itemName;
    RETURN_IF_ERROR(item["name"].get(itemName));
    if (itemName != name) continue;
    JsonField body = item[bodyKey];
    RETURN_IF_ERROR(body.expectObject());
    return std::optional<Named>(Named{itemName, body});
  }
  return std::optional<Named>();
}

std::string dirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// client-go resolves relative paths against the kubeconfig file's directory.
std::string resolvePath(const std::string& dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || dir.empty()) return p;
  return dir == "/" ? "/" + p : dir + "/" + p;
}

// Reads `<key>-data` (base64) or `<key>` (a file) of `body` into `pem`, `file`.
absl::Status readPemField(const JsonField& body, std::string_view key, const std::string& dir,
                          std::string& pem, std::string& file) {
  std::string data, path;
  JsonField dataField = body[std::string(key) + "-data"];
  JsonField fileField = body[key];
  RETURN_IF_ERROR(dataField.get(data));
  RETURN_IF_ERROR(fileField.get(path));
  if (!data.empty()) {
    if (!path.empty()) {
      LOG_WARNING << fileField.path() << " and " << dataField.path()
                  << " are both set; using the data";
    }
    if (!absl::Base64Unescape(data, &pem)) return dataField.error("invalid base64");
    file.clear();
    return absl::OkStatus();
  }
  if (path.empty()) return absl::OkStatus();
  file = resolvePath(dir, path);
  auto content = core::readFile(file);
  if (!content.ok()) return fileField.error(std::string(content.status().message()));
  pem = std::move(*content);
  return absl::OkStatus();
}

absl::Status decodeCluster(const Named& c, const std::string& dir, Kubeconfig& kc) {
  const JsonField& b = c.body;
  kc.clusterName = c.name;
  RETURN_IF_ERROR(b["server"].get(kc.server));
  if (kc.server.empty()) return b["server"].error("required");
  if (kc.server.rfind("https://", 0) != 0 && kc.server.rfind("http://", 0) != 0) {
    return b["server"].error(absl::StrCat("\"", kc.server, "\" is not an http(s) URL"));
  }
  while (kc.server.size() > 8 && kc.server.back() == '/') kc.server.pop_back();
  RETURN_IF_ERROR(b["tls-server-name"].get(kc.tlsServerName));
  RETURN_IF_ERROR(b["insecure-skip-tls-verify"].get(kc.insecureSkipTlsVerify));
  return readPemField(b, "certificate-authority", dir, kc.caPem, kc.caFile);
}

absl::Status decodeUser(const Named& u, const std::string& dir, Kubeconfig& kc) {
  const JsonField& b = u.body;
  kc.userName = u.name;
  for (std::string_view plugin : {"exec", "auth-provider"}) {
    if (b[plugin].isSet()) {
      return absl::UnimplementedError(
          absl::StrCat(b[plugin].path(),
                       ": credential plugins are not supported; use a client "
                       "certificate or a token"));
    }
  }
  for (std::string_view basic : {"username", "password"}) {
    if (b[basic].isSet()) {
      return absl::UnimplementedError(
          absl::StrCat(b[basic].path(), ": basic authentication is not supported"));
    }
  }
  RETURN_IF_ERROR(readPemField(b, "client-certificate", dir, kc.clientCertPem, kc.clientCertFile));
  RETURN_IF_ERROR(readPemField(b, "client-key", dir, kc.clientKeyPem, kc.clientKeyFile));
  if (kc.clientCertPem.empty() != kc.clientKeyPem.empty()) {
    return kc.clientCertPem.empty() ? b["client-certificate"].error("required with client-key")
                                    : b["client-key"].error("required with client-certificate");
  }
  RETURN_IF_ERROR(b["token"].get(kc.token));
  std::string tokenFile;
  RETURN_IF_ERROR(b["tokenFile"].get(tokenFile));
  if (!tokenFile.empty()) {
    kc.tokenFile = resolvePath(dir, tokenFile);
    // As client-go: an inline token is the first value; the file is read when there
    // is none (and re-read by the client either way).
    if (kc.token.empty()) {
      auto content = core::readFile(kc.tokenFile);
      if (!content.ok()) return b["tokenFile"].error(std::string(content.status().message()));
      kc.token = std::string(absl::StripAsciiWhitespace(*content));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Kubeconfig> parse(std::string_view text, const std::string& path) {
  ASSIGN_OR_RETURN(nlohmann::json doc,
                   core::parseYamlOrJson(text, path.empty() ? "kubeconfig" : path));
  JsonField root(doc);
  if (!root.isSet()) return absl::InvalidArgumentError("empty kubeconfig");
  RETURN_IF_ERROR(root.expectObject());
  Kubeconfig kc;
  kc.path = path;
  const std::string dir = dirOf(path);

  RETURN_IF_ERROR(root["current-context"].get(kc.contextName));
  JsonField contexts = root["contexts"];
  RETURN_IF_ERROR(contexts.expectArray());
  if (kc.contextName.empty()) {
    size_t n = contexts.isSet() ? contexts.value()->size() : 0;
    if (n != 1) {
      return root["current-context"].error(n == 0 ? "required (there are no contexts)"
                                                  : "required when there is more than one context");
    }
    RETURN_IF_ERROR(contexts.at(0)["name"].get(kc.contextName));
  }
  ASSIGN_OR_RETURN(auto ctx, findNamed(root, "contexts", "context", kc.contextName));
  if (!ctx) {
    return root["current-context"].error(
        absl::StrCat("context \"", kc.contextName, "\" not found in contexts"));
  }
  std::string clusterName, userName;
  RETURN_IF_ERROR(ctx->body["cluster"].get(clusterName));
  RETURN_IF_ERROR(ctx->body["user"].get(userName));
  RETURN_IF_ERROR(ctx->body["namespace"].get(kc.namespace_));
  if (clusterName.empty()) return ctx->body["cluster"].error("required");

  ASSIGN_OR_RETURN(auto cluster, findNamed(root, "clusters", "cluster", clusterName));
  if (!cluster) {
    return ctx->body["cluster"].error(
        absl::StrCat("cluster \"", clusterName, "\" not found in clusters"));
  }
  RETURN_IF_ERROR(decodeCluster(*cluster, dir, kc));

  if (!userName.empty()) {
    ASSIGN_OR_RETURN(auto user, findNamed(root, "users", "user", userName));
    if (!user) {
      return ctx->body["user"].error(absl::StrCat("user \"", userName, "\" not found in users"));
    }
    RETURN_IF_ERROR(decodeUser(*user, dir, kc));
  }
  return kc;
}

absl::Status withFile(const absl::Status& s, const std::string& path) {
  if (s.ok() || path.empty() || s.message().rfind(path + ":", 0) == 0) return s;
  return core::annotate(s, path);
}

}  // namespace

absl::StatusOr<Kubeconfig> parseKubeconfig(std::string_view text, const std::string& path) {
  auto kc = parse(text, path);
  if (!kc.ok()) return withFile(kc.status(), path);
  return kc;
}

absl::StatusOr<Kubeconfig> loadKubeconfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, core::readFile(path));
  return parseKubeconfig(text, path);
}

absl::Status reloadClientCertificate(Kubeconfig& kc) {
  if (!kc.clientCertFile.empty()) {
    auto cert = core::readFile(kc.clientCertFile);
    if (!cert.ok()) return withFile(cert.status(), kc.path);
    kc.clientCertPem = std::move(*cert);
  }
  if (!kc.clientKeyFile.empty()) {
    auto key = core::readFile(kc.clientKeyFile);
    if (!key.ok()) return withFile(key.status(), kc.path);
    kc.clientKeyPem = std::move(*key);
  }
  return absl::OkStatus();
}

}  // namespace agent::kubeapi
