// The gRPC health check (the kubelet's pkg/probe/grpc), declared with the others
// in checks.h: grpc.health.v1.Health/Check through gRPC's callback API, so no
// thread waits on it; gRPC's thread posts the answer to the loop.
#pragma once

#include "probes/checks.h"
