#include "agent/sources/file_source.h"

#include <sys/stat.h>

#include "agent/sources/static_pods.h"
#include "core/log.h"

namespace agent::sources {

FileSource::FileSource(core::EventLoop& loop, core::WorkerPool& pool, std::string path,
                       std::string nodeName, core::Duration checkFrequency,
                       std::function<void(const PodSet&)> onPods)
    : loop_(loop),
      pool_(pool),
      path_(std::move(path)),
      nodeName_(std::move(nodeName)),
      checkFrequency_(checkFrequency),
      onPods_(std::move(onPods)) {}

FileSource::~FileSource() { *alive_ = false; }

void FileSource::start() {
  apply(scanManifestDir(path_, nodeName_));
  periodic_ = loop_.createTimer([this] {
    ensureWatch();
    rescan();
    periodic_->enableTimer(checkFrequency_);
  });
  periodic_->enableTimer(checkFrequency_);
  ensureWatch();
}

void FileSource::ensureWatch() {
  if (watcher_) return;
  struct stat st {};
  // A single manifest file is watched through its directory.
  std::string dir = path_;
  if (::stat(path_.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    auto slash = path_.rfind('/');
    dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  }
  // React at once, as the kubelet does: a burst of events while a scan runs
  // collapses into one more scan (rescanAgain_), and a half-written file is
  // read again on its next event.
  auto w = core::DirWatcher::create(loop_, dir, [this] { rescan(); });
  if (w.ok()) {
    watcher_ = std::move(*w);
  } else {
    VLOG(2) << "not watching " << dir << " yet: " << w.status().message();
  }
}

void FileSource::rescan() {
  if (scanning_) {
    rescanAgain_ = true;
    return;
  }
  scanning_ = true;
  auto alive = alive_;
  std::string path = path_, node = nodeName_;
  pool_.submit([this, alive, path, node] {
    auto scan = std::make_shared<ManifestScan>(scanManifestDir(path, node));
    loop_.post([this, alive, scan] {
      if (!*alive) return;
      scanning_ = false;
      // The directory itself may have been removed: watch it again when it is back.
      if (watcher_ && !watcher_->alive()) watcher_.reset();
      apply(*scan);
      if (rescanAgain_) {
        rescanAgain_ = false;
        rescan();
      }
    });
  });
}

void FileSource::apply(const ManifestScan& scan) {
  std::set<std::string> errors;
  for (const auto& e : scan.errors) {
    errors.insert(e.message);
    if (!reportedErrors_.count(e.message)) LOG_ERROR << "static pod manifest: " << e.message;
  }
  reportedErrors_ = std::move(errors);

  std::map<std::string, std::shared_ptr<const api::Pod>> next;
  PodSet pods;
  for (const auto& sp : scan.pods) {
    const std::string& uid = sp.pod->metadata.uid;
    // The same content gives the same UID: keep the object we already have so
    // that consumers see no change.
    auto it = byUid_.find(uid);
    std::shared_ptr<const api::Pod> pod;
    if (it != byUid_.end()) {
      pod = it->second;
    } else {
      auto seen = std::make_shared<api::Pod>(*sp.pod);
      setConfigSeen(*seen, loop_.wallNow());
      pod = std::move(seen);
    }
    next[uid] = pod;
    pods.push_back({pod, sp.file, sp.manifestJson});
  }
  byUid_ = std::move(next);
  onPods_(pods);
}

}  // namespace agent::sources
