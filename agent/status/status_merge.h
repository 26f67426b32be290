// The pure rules the status manager applies to a pod status before it writes it,
// as the kubelet's status manager does (pkg/kubelet/status: updateStatusInternal,
// normalizeStatus, mergePodStatus, TerminatePod): what is kept from the status the
// pod already has, how the status is normalized so equal statuses compare equal,
// and how the agent's conditions merge with the ones other writers own.
#pragma once

#include <string>

#include "agent/api/pod_status.h"

namespace agent::status {

// Succeeded or Failed: a pod in such a phase never runs again.
bool isTerminalPhase(const std::string& phase);

// The condition types the kubelet owns (PodScheduled, Ready, Initialized,
// ContainersReady, PodReadyToStartContainers, PodResizePending, PodResizeInProgress). Others
// (readiness gates, DisruptionTarget, ...) belong to other writers and survive the agent's writes.
bool isKubeletCondition(const std::string& type);

// Keeps from `old` (the last status the agent set, or else what the API holds;
// may be null) what the kubelet never changes once set, then normalizes:
//  - lastTransitionTime of every condition whose status is unchanged;
//  - startTime once set (and `now` when neither has one);
//  - podIP/podIPs once set, while the new status has none (the sandbox is gone);
//  - a terminal phase (with its reason and message): never back to non-terminal;
//  - a terminal phase makes Ready and ContainersReady False (PodCompleted/PodFailed);
//  - app container statuses sorted by name, termination messages cut to the
//    kubelet's per-container share of 12 KiB.
// `now` is RFC 3339.
void preserveAndNormalize(const api::PodStatus* old, api::PodStatus& s, const std::string& now);

// Before writing over what the API holds: what preserveAndNormalize keeps, taken
// from the API's status, except that conditions whose status differs keep the
// time the agent saw them change. Keeps a restarted agent from rewriting
// startTime and transition times.
void preserveFromApi(const api::PodStatus& apiStatus, api::PodStatus& s, const std::string& now);

// What TerminatePod does to a pod that will not run again: a phase that is not
// terminal yet becomes Failed.
void forceTerminalPhase(api::PodStatus& s, const std::string& now);

// The status to write over `apiStatus` (mergePodStatus): the API's conditions of
// types that are neither the kubelet's nor in `desired`, in the API's order, then
// the agent's conditions. Everything else comes from `desired`.
api::PodStatus mergeWithApiStatus(const api::PodStatus& apiStatus, const api::PodStatus& desired);

}  // namespace agent::status
