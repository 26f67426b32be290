#include "tests/support/cubelet_process.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/private_containerd.h"

extern char** environ;

namespace cubelet::testing {
namespace {

int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

size_t appendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string makeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return "";
  return buf.data();
}

CubeletProcess::CubeletProcess(std::string dir, std::vector<std::string> extraFlags)
    : dir_(std::move(dir)), extraFlags_(std::move(extraFlags)) {
  std::filesystem::create_directories(manifestDir());
}

CubeletProcess::~CubeletProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

absl::Status CubeletProcess::start() {
  if (port_ == 0) port_ = freeLoopbackPort();
  if (apiPort_ == 0) apiPort_ = freeLoopbackPort();
  std::vector<std::string> args = {
      CUBELET_BINARY_DIR "/agent/cubelet",
      "--pod-manifest-path=" + manifestDir(),
      "--container-runtime-endpoint=" + containerd().endpoint(),
      "--root-dir=" + rootDir(),
      "--pod-logs-dir=" + podLogsDir(),
      "--container-logs-link-dir=" + linkDir(),
      "--cni-conf-dir=" + containerd().cniConfDir(),
      // Where the private containerd's CNI plugins are (scripts/containerd.sh).
      "--cni-bin-dir=/usr/lib/cni",
      "--hostname-override=" + nodeName_,
      "--node-ip=127.0.0.1",
      "--address=127.0.0.1",
      "--read-only-port=" + std::to_string(port_),
      "--healthz-port=0",
      "--port=" + std::to_string(apiPort_),
      "--cert-dir=" + certDir(),
      "--file-check-frequency=1s",
      "--crash-loop-backoff-base=1s",
      // No eviction thresholds: a build machine's nearly full disk must not turn into
      // DiskPressure (refused pods, and image GC of images no registry can give back).
      // Tests of eviction pass their own --eviction-hard, merged into this empty set.
      "--eviction-hard=",
      "--v=2",
  };
  args.insert(args.end(), extraFlags_.begin(), extraFlags_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, logFile().c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  // The test process blocks no signals cubelet needs; start it with a clean mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (!env_.count(kv.substr(0, kv.find('=')))) env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : env_) env.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    return absl::InternalError(std::string("spawn cubelet: ") + std::strerror(rc));
  }
  // Ready when the read-only port answers.
  for (int i = 0; i < 100; ++i) {
    if (pods().ok()) return absl::OkStatus();
    if (!running()) return absl::InternalError("cubelet exited during start-up:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("cubelet's read-only port never answered:\n" + log());
}

bool CubeletProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

absl::StatusOr<int> CubeletProcess::stop() {
  if (pid_ <= 0) return absl::FailedPreconditionError("cubelet is not running");
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("cubelet did not exit within 10 s of SIGTERM");
}

std::string CubeletProcess::log() const {
  std::ifstream in(logFile());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CubeletProcess::writeManifest(const std::string& name, const std::string& yaml) {
  std::string tmp = manifestDir() + "/." + name + ".tmp";
  std::ofstream(tmp) << yaml;
  std::filesystem::rename(tmp, manifestDir() + "/" + name);
}

void CubeletProcess::removeManifest(const std::string& name) {
  std::filesystem::remove(manifestDir() + "/" + name);
}

absl::StatusOr<std::string> CubeletProcess::get(const std::string& path) {
  CURL* curl = curl_easy_init();
  std::string body;
  std::string url = "http://127.0.0.1:" + std::to_string(port_) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, appendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(rc));
  if (code != 200) return absl::InternalError("GET " + path + ": HTTP " + std::to_string(code));
  return body;
}

absl::StatusOr<nlohmann::json> CubeletProcess::pods() {
  auto body = get("/pods");
  if (!body.ok()) return body.status();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("GET /pods: not JSON: " + *body);
  return j;
}

std::optional<nlohmann::json> CubeletProcess::pod(const std::string& name) {
  auto list = pods();
  if (!list.ok()) return std::nullopt;
  for (const auto& item : (*list)["items"]) {
    if (item["metadata"]["name"] == name + "-" + nodeName_) return item;
  }
  return std::nullopt;
}

bool CubeletProcess::waitForPod(
    const std::string& name, const std::function<bool(const std::optional<nlohmann::json>&)>& pred,
    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(pod(name))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool CubeletProcess::waitForPhase(const std::string& name, const std::string& phase,
                                  std::chrono::milliseconds timeout) {
  return waitForPod(
      name,
      [&](const std::optional<nlohmann::json>& p) {
        return p && p->contains("status") && (*p)["status"].value("phase", "") == phase;
      },
      timeout);
}

nlohmann::json containerStatus(const nlohmann::json& pod, const std::string& container, bool init) {
  const char* key = init ? "initContainerStatuses" : "containerStatuses";
  if (!pod.contains("status") || !pod["status"].contains(key)) return nlohmann::json::object();
  for (const auto& cs : pod["status"][key]) {
    if (cs["name"] == container) return cs;
  }
  return nlohmann::json::object();
}

std::string stateSummary(const nlohmann::json& cs) {
  if (!cs.contains("state")) return "none";
  const auto& s = cs["state"];
  if (s.contains("running")) return "running";
  if (s.contains("waiting")) return "waiting:" + s["waiting"].value("reason", "");
  if (s.contains("terminated")) {
    return "terminated:" + s["terminated"].value("reason", "") + ":" +
           std::to_string(s["terminated"].value("exitCode", -1));
  }
  return "none";
}

}  // namespace cubelet::testing
