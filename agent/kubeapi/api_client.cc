#include "agent/kubeapi/api_client.h"

#include <cctype>

#include "nlohmann/json.hpp"

namespace agent::kubeapi {

std::string Response::describe(const Request& req) const {
  std::string out = req.method + " " + req.path.substr(0, req.path.find('?')) + ": ";
  if (!transport.ok()) return out + std::string(transport.message());
  out += std::to_string(code);
  // The API server answers errors with a Status object; its reason and message
  // are what a reader wants.
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    if (j.contains("reason") && j["reason"].is_string())
      out += " " + j["reason"].get<std::string>();
    if (j.contains("message") && j["message"].is_string())
      out += ": " + j["message"].get<std::string>();
  } else if (!body.empty()) {
    out += ": " + body.substr(0, 200);
  }
  return out;
}

std::string escapeQuery(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace agent::kubeapi
