// The GnuTLS side of HttpServer's HTTPS: the kubelet's TLS settings turned into a
// GnuTLS priority string, the certificate material checked up front (so a bad PEM
// is named), and the client certificate of a connection read into a
// PeerCertificate.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/server/http_server.h"

namespace agent::server::internal {

// The GnuTLS priority string for tlsMinVersion/tlsCipherSuites. Go's names:
// "VersionTLS10".."VersionTLS13" (empty: TLS 1.2, as Go's server); cipher suites
// by their Go/IANA names. GnuTLS enables ciphers, MACs and key exchanges
// separately, so the suites allowed are those combinations of the named suites'
// parts; the TLS 1.3 names are accepted and, as in Go, do not restrict TLS 1.3.
absl::StatusOr<std::string> tlsPriorities(const std::string& minVersion,
                                          const std::vector<std::string>& cipherSuites);

// Checks that the certificate chain, key and client CA parse and that the key
// belongs to the certificate. Errors name which of them is wrong.
absl::Status checkTlsMaterial(const TlsOptions& tls);

// The client certificate of the TLS session `session` (a gnutls_session_t), or
// nothing when the client sent none.
std::optional<PeerCertificate> peerCertificate(void* session);

}  // namespace agent::server::internal
