#include "agent/runtime/expansion.h"

namespace agent::runtime {

std::string expandVars(std::string_view in, const VarLookup& lookup) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c != '$' || i + 1 >= in.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {  // escaped operator
      out.push_back('$');
      i += 2;
      continue;
    }
    if (next != '(') {  // an operator that starts no reference
      out.push_back('$');
      out.push_back(next);
      i += 2;
      continue;
    }
    size_t close = in.find(')', i + 2);
    if (close == std::string_view::npos) {  // incomplete reference: keep "$(" as is
      out.append("$(");
      i += 2;
      continue;
    }
    std::string_view name = in.substr(i + 2, close - i - 2);
    if (auto v = lookup(name)) {
      out.append(*v);
    } else {
      out.append("$(").append(name).append(")");
    }
    i = close + 1;
  }
  return out;
}

VarLookup lookupIn(std::vector<const std::map<std::string, std::string>*> maps) {
  return [maps = std::move(maps)](std::string_view name) -> std::optional<std::string> {
    for (const auto* m : maps) {
      auto it = m->find(std::string(name));
      if (it != m->end()) return it->second;
    }
    return std::nullopt;
  };
}

}  // namespace agent::runtime
