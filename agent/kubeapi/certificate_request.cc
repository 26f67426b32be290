#include "agent/kubeapi/certificate_request.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/kubeapi/certificate.h"
#include "core/json_decode.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::kubeapi {
namespace {

using core::decodeObject;
using core::JsonField;

// The parts of a CertificateSigningRequest this flow reads.
struct CsrCondition {
  std::string type, reason, message;
};
struct CsrObject {
  std::string name, uid, resourceVersion, signerName, request, certificate;  // base64 fields
  std::vector<CsrCondition> conditions;
};

absl::Status decodeJson(const JsonField& f, CsrCondition& out) {
  return decodeObject(f, "type", out.type, "reason", out.reason, "message", out.message);
}

absl::Status decodeCsr(const JsonField& f, CsrObject& out) {
  RETURN_IF_ERROR(decodeObject(f["metadata"], "name", out.name, "uid", out.uid, "resourceVersion",
                               out.resourceVersion));
  RETURN_IF_ERROR(decodeObject(f["spec"], "signerName", out.signerName, "request", out.request));
  return decodeObject(f["status"], "certificate", out.certificate, "conditions", out.conditions);
}

absl::StatusOr<CsrObject> parseCsrObject(std::string_view body, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": invalid JSON"));
  CsrObject csr;
  RETURN_IF_ERROR(core::annotate(decodeCsr(JsonField(j), csr), what));
  return csr;
}

std::string base64Decode(const std::string& s) {
  std::string out;
  if (!absl::Base64Unescape(s, &out)) return "";
  return out;
}

class CertificateRequestImpl : public CertificateRequest {
 public:
  CertificateRequestImpl(core::EventLoop& loop, ApiClient& client, CsrSpec spec, Done done)
      : loop_(loop), client_(client), spec_(std::move(spec)), done_(std::move(done)) {
    timeout_ = loop_.createTimer([this] {
      finish(absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for certificate signing request ",
                       name_.empty() ? spec_.name : name_, " to be issued")));
    });
    timeout_->enableTimer(spec_.waitTimeout);
    relistTimer_ = loop_.createTimer([this] { list(); });
  }
  ~CertificateRequestImpl() override { *alive_ = false; }

  const std::string& name() const override { return name_; }

  void create() {
    nlohmann::json meta = nlohmann::json::object();
    if (spec_.name.empty()) {
      meta["generateName"] = "csr-";
    } else {
      meta["name"] = spec_.name;
    }
    nlohmann::json body = {{"kind", "CertificateSigningRequest"},
                           {"apiVersion", "certificates.k8s.io/v1"},
                           {"metadata", meta},
                           {"spec",
                            {{"request", absl::Base64Escape(spec_.csrPem)},
                             {"signerName", spec_.signerName},
                             {"usages", spec_.usages}}}};
    Request req;
    req.method = "POST";
    req.path = kCsrCollectionPath;
    req.body = body.dump();
    client_.send(req, guard([this, req](Response r) {
                   if (r.code == 409 && !spec_.name.empty()) {
                     LOG_INFO << "csr for this node already exists, reusing";
                     getExisting();
                     return;
                   }
                   if (!r.ok()) {
                     return finish(absl::UnavailableError(absl::StrCat(
                         "cannot create certificate signing request: ", r.describe(req))));
                   }
                   auto csr = parseCsrObject(r.body, "created certificate signing request");
                   if (!csr.ok()) return finish(csr.status());
                   created(*csr);
                 }));
  }

 private:
  template <typename F>
  std::function<void(Response)> guard(F f) {
    return [alive = alive_, f = std::move(f)](Response r) mutable {
      if (*alive) f(std::move(r));
    };
  }

  void getExisting() {
    Request req;
    req.path = absl::StrCat(kCsrCollectionPath, "/", spec_.name);
    client_.send(req, guard([this, req](Response r) {
                   if (!r.ok()) {
                     return finish(absl::UnavailableError(absl::StrCat(
                         "cannot get existing certificate signing request: ", r.describe(req))));
                   }
                   auto csr = parseCsrObject(r.body, absl::StrCat("csr ", spec_.name));
                   if (!csr.ok()) return finish(csr.status());
                   absl::Status compatible = ensureCompatible(*csr);
                   if (!compatible.ok()) {
                     return finish(core::annotate(compatible, "retrieved csr is not compatible"));
                   }
                   LOG_INFO << "csr for this node is still valid";
                   created(*csr);
                 }));
  }

  // The existing CSR must be for our key, subject and signer (client-go's ensureCompatible).
  absl::Status ensureCompatible(const CsrObject& existing) {
    ASSIGN_OR_RETURN(CsrInfo theirs, parseCsrPem(base64Decode(existing.request)));
    ASSIGN_OR_RETURN(CsrInfo ours, parseCsrPem(spec_.csrPem));
    if (theirs.commonName != ours.commonName || theirs.organizations != ours.organizations) {
      return absl::FailedPreconditionError("csr subjects differ");
    }
    if (existing.signerName != spec_.signerName) {
      return absl::FailedPreconditionError(
          absl::StrCat("csr signerNames differ: ", existing.signerName, " vs ", spec_.signerName));
    }
    ASSIGN_OR_RETURN(std::string pub, publicKeyDer(spec_.keyPem));
    if (theirs.publicKeyDer != pub) {
      return absl::FailedPreconditionError("csr public key does not match private key");
    }
    return absl::OkStatus();
  }

  void created(const CsrObject& csr) {
    name_ = csr.name;
    uid_ = csr.uid;
    VLOG(2) << "Waiting for certificate signing request " << name_ << " to be issued";
    if (evaluate(csr)) return;
    list();
  }

  std::string selector() const {
    return absl::StrCat("fieldSelector=", escapeQuery(absl::StrCat("metadata.name=", name_)));
  }

  void list() {
    watch_.reset();
    Request req;
    req.path = absl::StrCat(kCsrCollectionPath, "?", selector());
    client_.send(
        req, guard([this, req](Response r) {
          if (!r.ok()) {
            LOG_WARNING << "certificate signing request " << name_
                        << ": list failed, retrying: " << r.describe(req);
            return relistLater();
          }
          nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
          std::string rv;
          if (j.is_object() && j["metadata"].is_object() &&
              j["metadata"]["resourceVersion"].is_string()) {
            rv = j["metadata"]["resourceVersion"].get<std::string>();
          }
          bool seen = false;
          if (j.is_object() && j["items"].is_array()) {
            for (const auto& item : j["items"]) {
              CsrObject csr;
              if (!decodeCsr(JsonField(item), csr).ok() || csr.name != name_) continue;
              seen = true;
              if (evaluate(csr)) return;
            }
          }
          if (!seen) {
            return finish(absl::NotFoundError(absl::StrCat("csr \"", name_, "\" was deleted")));
          }
          watch(rv);
        }));
  }

  void watch(const std::string& rv) {
    Request req;
    req.path = absl::StrCat(kCsrCollectionPath, "?allowWatchBookmarks=true&", selector(),
                            "&resourceVersion=", escapeQuery(rv), "&watch=true");
    req.timeout = std::chrono::seconds(30);
    watch_ = client_.stream(
        req,
        [this, alive = alive_](std::string_view line) {
          if (*alive) onEvent(line);
        },
        guard([this](Response r) {
          VLOG(2) << "certificate signing request " << name_ << ": watch ended (code " << r.code
                  << "), relisting";
          relistLater();
        }));
  }

  void relistLater() {
    watch_.reset();
    relistTimer_->enableTimer(std::chrono::seconds(1));
  }

  void onEvent(std::string_view line) {
    nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
    if (!ev.is_object() || !ev["type"].is_string()) return;
    std::string type = ev["type"].get<std::string>();
    if (type == "BOOKMARK") return;
    if (type == "ERROR") return relistLater();  // e.g. 410 Gone
    CsrObject csr;
    absl::Status s = decodeCsr(JsonField(ev["object"]), csr);
    if (!s.ok()) {
      LOG_WARNING << "certificate signing request " << name_ << ": bad watch event: " << s;
      return;
    }
    if (csr.name != name_) return;
    if (type == "DELETED") {
      return finish(absl::NotFoundError(absl::StrCat("csr \"", name_, "\" was deleted")));
    }
    evaluate(csr);
  }

  // True when the CSR reached an end (finished).
  bool evaluate(const CsrObject& csr) {
    if (!uid_.empty() && csr.uid != uid_) {
      finish(absl::FailedPreconditionError(absl::StrCat("csr \"", csr.name, "\" changed UIDs")));
      return true;
    }
    bool approved = false;
    for (const auto& c : csr.conditions) {
      if (c.type == "Denied") {
        finish(absl::PermissionDeniedError(absl::StrCat("certificate signing request ", csr.name,
                                                        " is denied, reason: ", c.reason,
                                                        ", message: ", c.message)));
        return true;
      }
      if (c.type == "Failed") {
        finish(absl::AbortedError(absl::StrCat("certificate signing request ", csr.name,
                                               " failed, reason: ", c.reason,
                                               ", message: ", c.message)));
        return true;
      }
      if (c.type == "Approved") approved = true;
    }
    if (!approved) return false;
    if (csr.certificate.empty()) {
      VLOG(2) << "certificate signing request " << csr.name << " is approved, waiting to be issued";
      return false;
    }
    std::string pem;
    if (!absl::Base64Unescape(csr.certificate, &pem) || !parseCertificatesPem(pem).ok()) {
      finish(absl::InvalidArgumentError(
          absl::StrCat("certificate signing request ", csr.name,
                       ": status.certificate is not a PEM certificate")));
      return true;
    }
    VLOG(2) << "certificate signing request " << csr.name << " is issued";
    finish(std::move(pem));
    return true;
  }

  // Hands the result over from a fresh loop turn: finish() may run inside the
  // watch's own callback, where the stream must not be destroyed, and `done` may
  // destroy this request.
  void finish(absl::StatusOr<std::string> result) {
    if (!done_) return;
    timeout_->disableTimer();
    relistTimer_->disableTimer();
    loop_.post([this, alive = alive_, done = std::move(done_), result = std::move(result)] {
      if (!*alive) return;
      watch_.reset();
      done(result);
    });
    done_ = nullptr;
  }

  core::EventLoop& loop_;
  ApiClient& client_;
  CsrSpec spec_;
  Done done_;
  std::string name_, uid_;
  StreamPtr watch_;
  core::TimerPtr timeout_;
  core::TimerPtr relistTimer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<CertificateRequest> CertificateRequest::start(core::EventLoop& loop,
                                                              ApiClient& client, CsrSpec spec,
                                                              Done done) {
  auto r = std::make_unique<CertificateRequestImpl>(loop, client, std::move(spec), std::move(done));
  r->create();
  return r;
}

}  // namespace agent::kubeapi
