// Go's %q: a string in double quotes with Go's escapes. The kubelet's messages
// (events, probe output, errors) quote names and values this way, and tools match
// on them.
#pragma once

#include <string>
#include <string_view>

namespace core {

// Valid UTF-8 passes through; control bytes and invalid UTF-8 become \xNN.
std::string goQuote(std::string_view s);

}  // namespace core
