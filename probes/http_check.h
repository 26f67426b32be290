// The HTTP(S) GET check (the kubelet's pkg/probe/http), declared with the others
// in checks.h: one non-blocking connection per hop driven by the loop's fd
// readiness, OpenSSL for HTTPS without certificate verification, same-host
// redirects followed, the whole exchange bounded by the timeout.
//
// HTTPS writes through OpenSSL's socket BIO: the process must ignore SIGPIPE
// (the agent does, core/signals.h), or a peer closing mid-write would kill it.
#pragma once

#include "probes/checks.h"
