// $(VAR) expansion with the kubelet's rules: "$$" is an escaped "$", a reference
// whose name is unknown stays as written, an unterminated "$(" is kept literally.
// Used for env values (against the variables defined before them) and for
// command and args (against the container's final environment).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agent::runtime {

using VarLookup = std::function<std::optional<std::string>(std::string_view name)>;

std::string expandVars(std::string_view input, const VarLookup& lookup);

// Lookup over ordered maps: the first that has the name wins.
VarLookup lookupIn(std::vector<const std::map<std::string, std::string>*> maps);

}  // namespace agent::runtime
