// The TCP socket check (the kubelet's pkg/probe/tcp): can a connection to
// host:port be opened within the timeout? Declared with the others in checks.h.
#pragma once

#include "probes/checks.h"
