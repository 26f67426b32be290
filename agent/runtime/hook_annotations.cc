#include "agent/runtime/hook_annotations.h"

#include <nlohmann/json.hpp>

#include "agent/api/pod_decode.h"
#include "core/log.h"

namespace agent::runtime {
namespace {

using Json = nlohmann::ordered_json;

Json portJson(const api::IntOrString& p) {
  return p.isString ? Json(p.strValue) : Json(p.intValue);
}

}  // namespace

std::string handlerJson(const api::Handler& h) {
  Json j = Json::object();
  if (h.exec) {
    Json e = Json::object();
    if (!h.exec->command.empty()) e["command"] = h.exec->command;
    j["exec"] = e;
  }
  if (h.httpGet) {
    Json g = Json::object();
    if (!h.httpGet->path.empty()) g["path"] = h.httpGet->path;
    g["port"] = portJson(h.httpGet->port);
    if (!h.httpGet->host.empty()) g["host"] = h.httpGet->host;
    if (!h.httpGet->scheme.empty()) g["scheme"] = h.httpGet->scheme;
    if (!h.httpGet->httpHeaders.empty()) {
      Json headers = Json::array();
      for (const auto& hdr : h.httpGet->httpHeaders) {
        headers.push_back(Json{{"name", hdr.name}, {"value", hdr.value}});
      }
      g["httpHeaders"] = headers;
    }
    j["httpGet"] = g;
  }
  if (h.tcpSocket) {
    Json t = Json::object();
    t["port"] = portJson(h.tcpSocket->port);
    if (!h.tcpSocket->host.empty()) t["host"] = h.tcpSocket->host;
    j["tcpSocket"] = t;
  }
  if (h.sleep) j["sleep"] = Json{{"seconds", h.sleep->seconds}};
  return j.dump();
}

api::Container restoredContainerSpec(const ContainerRuntimeStatus& status) {
  api::Container c;
  c.name = status.name;
  if (!status.portsJson.empty()) {
    nlohmann::json j = nlohmann::json::parse(status.portsJson, nullptr, false);
    std::vector<api::ContainerPort> ports;
    if (!j.is_discarded() && core::JsonField(j).get(ports).ok()) c.ports = std::move(ports);
  }
  if (!status.preStopHandlerJson.empty()) {
    nlohmann::json j = nlohmann::json::parse(status.preStopHandlerJson, nullptr, false);
    api::Handler h;
    absl::Status s = j.is_discarded() ? absl::InvalidArgumentError("not JSON")
                                      : api::decodeJson(core::JsonField(j), h);
    if (s.ok()) {
      c.lifecycle = api::Lifecycle{};
      c.lifecycle->preStop = std::move(h);
    } else {
      LOG_WARNING << "container " << status.id << ": preStop handler annotation: " << s.message();
    }
  }
  return c;
}

}  // namespace agent::runtime
