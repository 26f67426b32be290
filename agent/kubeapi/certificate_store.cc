#include "agent/kubeapi/certificate_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::kubeapi {
namespace {

std::string parentDir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Go's time.Format("2006-01-02-15-04-05") in local time.
std::string timestamp(core::WallTime now) {
  time_t t = std::chrono::system_clock::to_time_t(now);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%d-%H-%M-%S", &tm);
  return buf;
}

// A YAML scalar: plain when that is unambiguous, else double-quoted (JSON escaping
// is valid YAML).
std::string yamlScalar(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '-' || c == '_' ||
          c == ':' || c == '=' || c == '+')) {
      plain = false;
    }
  }
  if (plain && (s.front() == '-' || s.front() == ':' || s.back() == ':' ||
                s.find(": ") != std::string::npos)) {
    plain = false;
  }
  return plain ? s : nlohmann::json(s).dump();
}

absl::Status fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return core::errnoStatus(errno, absl::StrCat("open ", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return core::errnoStatus(err, absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

std::string currentCertPath(const std::string& certDir, const std::string& prefix) {
  return absl::StrCat(certDir, "/", prefix, "-current.pem");
}

std::string pendingKeyPath(const std::string& certDir) {
  return absl::StrCat(certDir, "/", kClientCertPrefix, ".key.tmp");
}

absl::StatusOr<CertKeyPair> loadCurrentCertificate(const std::string& certDir,
                                                   const std::string& prefix) {
  std::string path = currentCertPath(certDir, prefix);
  ASSIGN_OR_RETURN(std::string data, core::readFile(path));
  auto pair = parseCertKeyPem(data);
  if (!pair.ok()) return core::annotate(pair.status(), path);
  return pair;
}

absl::StatusOr<std::string> storeCertificate(const std::string& certDir, const std::string& certPem,
                                             const std::string& keyPem, core::WallTime now,
                                             const std::string& prefix) {
  RETURN_IF_ERROR(core::mkdirAll(certDir, 0755));
  std::string path = absl::StrCat(certDir, "/", prefix, "-", timestamp(now), ".pem");
  std::string data = certPem;
  if (!data.empty() && data.back() != '\n') data += '\n';
  data += keyPem;
  // The pair must load before anything points at it.
  auto check = parseCertKeyPem(data);
  if (!check.ok()) return core::annotate(check.status(), path);
  RETURN_IF_ERROR(core::writeFileAtomic(path, data, 0600));

  std::string current = currentCertPath(certDir, prefix);
  struct stat st {};
  if (::lstat(current.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected ", current, " to be a symlink but it is a file"));
  }
  std::string updated = absl::StrCat(certDir, "/", prefix, "-updated.pem");
  if (::unlink(updated.c_str()) != 0 && errno != ENOENT) {
    return core::errnoStatus(errno, absl::StrCat("remove ", updated));
  }
  if (::symlink(path.c_str(), updated.c_str()) != 0) {
    return core::errnoStatus(errno, absl::StrCat("symlink ", updated, " -> ", path));
  }
  if (::rename(updated.c_str(), current.c_str()) != 0) {
    return core::errnoStatus(errno, absl::StrCat("rename ", updated, " to ", current));
  }
  RETURN_IF_ERROR(fsyncDir(certDir));
  return path;
}

std::string bootstrappedKubeconfigYaml(const Kubeconfig& bootstrap, const std::string& pemPath) {
  std::string cluster;
  if (!bootstrap.caFile.empty()) {
    absl::StrAppend(&cluster, "    certificate-authority: ", yamlScalar(bootstrap.caFile), "\n");
  } else if (!bootstrap.caPem.empty()) {
    absl::StrAppend(&cluster,
                    "    certificate-authority-data: ", absl::Base64Escape(bootstrap.caPem), "\n");
  }
  if (bootstrap.insecureSkipTlsVerify) cluster += "    insecure-skip-tls-verify: true\n";
  absl::StrAppend(&cluster, "    server: ", yamlScalar(bootstrap.server), "\n");
  std::string pem = yamlScalar(pemPath);
  return absl::StrCat(
      "apiVersion: v1\n"
      "clusters:\n"
      "- cluster:\n",
      cluster,
      "  name: default-cluster\n"
      "contexts:\n"
      "- context:\n"
      "    cluster: default-cluster\n"
      "    namespace: default\n"
      "    user: default-auth\n"
      "  name: default-context\n"
      "current-context: default-context\n"
      "kind: Config\n"
      "preferences: {}\n"
      "users:\n"
      "- name: default-auth\n"
      "  user:\n"
      "    client-certificate: ",
      pem,
      "\n"
      "    client-key: ",
      pem, "\n");
}

absl::Status writeBootstrappedKubeconfig(const std::string& path, const Kubeconfig& bootstrap,
                                         const std::string& pemPath) {
  RETURN_IF_ERROR(core::mkdirAll(parentDir(path), 0755));
  return core::writeFileAtomic(path, bootstrappedKubeconfigYaml(bootstrap, pemPath), 0600);
}

bool kubeconfigStillValid(const std::string& path, core::WallTime now) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) LOG_WARNING << "error reading existing kubeconfig " << path;
    return false;
  }
  auto kc = loadKubeconfig(path);
  if (!kc.ok()) {
    LOG_WARNING << "unable to read existing bootstrap client config from " << path << ": "
                << kc.status();
    return false;
  }
  if (!kc->hasClientCert()) {
    LOG_WARNING
        << "unable to read TLS certificates from existing bootstrap client config read from "
        << path;
    return false;
  }
  auto certs = parseCertificatesPem(kc->clientCertPem);
  if (!certs.ok()) {
    LOG_WARNING
        << "unable to load TLS certificates from existing bootstrap client config read from "
        << path << ": " << certs.status();
    return false;
  }
  for (const auto& c : *certs) {
    if (now > c.notAfter) {
      LOG_WARNING << "part of the existing bootstrap client certificate in " << path
                  << " is expired";
      return false;
    }
  }
  return true;
}

}  // namespace agent::kubeapi
