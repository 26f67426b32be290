#include "agent/runtime/seccomp_profile.h"

#include <seccomp.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace agent::runtime {
namespace {

using nlohmann::json;

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

constexpr unsigned kMaxArgs = 6;  // a system call's arguments

absl::Status fieldError(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string jsonQuoted(std::string_view s) { return json(std::string(s)).dump(); }

absl::StatusOr<std::string> stringAt(const json& obj, const char* key, const std::string& field) {
  const json& v = obj.at(key);
  if (!v.is_string()) return fieldError(field, absl::StrCat("expected a string, got ", v.dump()));
  return v.get<std::string>();
}

// A non-negative integer (errnoRet, args' values), as Go's uint fields decode.
absl::StatusOr<uint64_t> uintAt(const json& obj, const char* key, const std::string& field) {
  const json& v = obj.at(key);
  if (!v.is_number_unsigned()) {
    return fieldError(field, absl::StrCat("expected a non-negative integer, got ", v.dump()));
  }
  return v.get<uint64_t>();
}

// The OCI action name with its errno (ERRNO and TRACE only), as runc's getAction.
absl::StatusOr<uint32_t> parseAction(const std::string& name, std::optional<uint64_t> errnoRet,
                                     const std::string& field) {
  uint32_t ret = errnoRet ? static_cast<uint32_t>(*errnoRet) : EPERM;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return fieldError(field, absl::StrCat("unknown action ", jsonQuoted(name)));
}

absl::StatusOr<scmp_compare> parseOperator(const std::string& op, const std::string& field) {
  static constexpr std::array<std::pair<std::string_view, scmp_compare>, 7> kOps = {{
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  }};
  for (const auto& [name, value] : kOps) {
    if (op == name) return value;
  }
  return fieldError(field, absl::StrCat("unknown operator ", jsonQuoted(op)));
}

// "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64"; 0 when unknown.
uint32_t resolveArch(const std::string& name) {
  constexpr std::string_view kPrefix = "SCMP_ARCH_";
  if (name.rfind(kPrefix, 0) != 0) return 0;
  std::string lower = absl::AsciiStrToLower(name.substr(kPrefix.size()));
  return seccomp_arch_resolve_name(lower.c_str());
}

// What no architecture's system call is called: empty, or not [a-z0-9_].
bool wellFormedSyscallName(const std::string& name) {
  if (name.empty()) return false;
  for (char ch : name) {
    if (!(absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '_')) return false;
  }
  return true;
}

absl::Status checkArchList(const json& list, const std::string& field, scmp_filter_ctx ctx) {
  if (!list.is_array()) return fieldError(field, "expected a list of architectures");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    if (!list[i].is_string()) return fieldError(f, "expected a string");
    std::string name = list[i].get<std::string>();
    uint32_t arch = resolveArch(name);
    if (arch == 0) return fieldError(f, absl::StrCat("unknown architecture ", jsonQuoted(name)));
    if (ctx == nullptr) continue;
    if (int rc = seccomp_arch_add(ctx, arch); rc < 0 && rc != -EEXIST) {
      return fieldError(f, absl::StrCat("libseccomp refused architecture ", jsonQuoted(name), ": ",
                                        std::strerror(-rc)));
    }
  }
  return absl::OkStatus();
}

absl::Status checkFlags(const json& profile) {
  static constexpr std::array<std::string_view, 4> kFlags = {
      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  if (!profile.contains("flags") || profile["flags"].is_null()) return absl::OkStatus();
  const json& flags = profile["flags"];
  if (!flags.is_array()) return fieldError("flags", "expected a list of flags");
  for (size_t i = 0; i < flags.size(); ++i) {
    std::string f = absl::StrCat("flags[", i, "]");
    if (!flags[i].is_string()) return fieldError(f, "expected a string");
    std::string flag = flags[i].get<std::string>();
    if (std::find(kFlags.begin(), kFlags.end(), flag) == kFlags.end()) {
      return fieldError(f, absl::StrCat("unknown flag ", jsonQuoted(flag)));
    }
  }
  return absl::OkStatus();
}

// Set and not null (Go leaves a null field at its zero value).
bool present(const json& obj, const char* key) { return obj.contains(key) && !obj[key].is_null(); }

absl::Status addSyscallRules(const json& entry, size_t index, uint32_t defaultAction,
                             scmp_filter_ctx ctx) {
  const std::string field = absl::StrCat("syscalls[", index, "]");
  if (!entry.is_object()) return fieldError(field, "expected an object");

  std::vector<std::pair<std::string, std::string>> names;  // field, name
  bool hasName = entry.contains("name") && !entry["name"].is_null();
  bool hasNames = entry.contains("names") && !entry["names"].is_null();
  if (hasName && hasNames) {
    return fieldError(field, "both \"name\" and \"names\" are set; use either, not both");
  }
  if (hasName) {
    auto n = stringAt(entry, "name", field + ".name");
    if (!n.ok()) return n.status();
    names.emplace_back(field + ".name", *n);
  } else if (hasNames) {
    const json& list = entry["names"];
    if (!list.is_array()) return fieldError(field + ".names", "expected a list of strings");
    for (size_t j = 0; j < list.size(); ++j) {
      std::string f = absl::StrCat(field, ".names[", j, "]");
      if (!list[j].is_string()) return fieldError(f, "expected a string");
      names.emplace_back(f, list[j].get<std::string>());
    }
  }
  if (names.empty()) return fieldError(field + ".names", "no system call named");

  if (!entry.contains("action")) return fieldError(field + ".action", "missing");
  auto actionName = stringAt(entry, "action", field + ".action");
  if (!actionName.ok()) return actionName.status();
  std::optional<uint64_t> errnoRet;
  if (present(entry, "errnoRet")) {
    auto v = uintAt(entry, "errnoRet", field + ".errnoRet");
    if (!v.ok()) return v.status();
    errnoRet = *v;
  }
  auto action = parseAction(*actionName, errnoRet, field + ".action");
  if (!action.ok()) return action.status();

  std::vector<scmp_arg_cmp> conditions;
  std::array<int, kMaxArgs> perArg{};
  if (entry.contains("args") && !entry["args"].is_null()) {
    const json& args = entry["args"];
    if (!args.is_array()) return fieldError(field + ".args", "expected a list");
    for (size_t j = 0; j < args.size(); ++j) {
      std::string f = absl::StrCat(field, ".args[", j, "]");
      const json& a = args[j];
      if (!a.is_object()) return fieldError(f, "expected an object");
      if (!a.contains("index")) return fieldError(f + ".index", "missing");
      auto idx = uintAt(a, "index", f + ".index");
      if (!idx.ok()) return idx.status();
      if (*idx >= kMaxArgs) {
        return fieldError(f + ".index",
                          absl::StrCat(*idx, " is out of range: a system call has ", kMaxArgs,
                                       " arguments (0 to ", kMaxArgs - 1, ")"));
      }
      uint64_t value = 0, valueTwo = 0;
      if (present(a, "value")) {
        auto v = uintAt(a, "value", f + ".value");
        if (!v.ok()) return v.status();
        value = *v;
      }
      if (present(a, "valueTwo")) {
        auto v = uintAt(a, "valueTwo", f + ".valueTwo");
        if (!v.ok()) return v.status();
        valueTwo = *v;
      }
      if (!a.contains("op")) return fieldError(f + ".op", "missing");
      auto opName = stringAt(a, "op", f + ".op");
      if (!opName.ok()) return opName.status();
      auto op = parseOperator(*opName, f + ".op");
      if (!op.ok()) return op.status();
      conditions.push_back({static_cast<unsigned>(*idx), *op, value, valueTwo});
      ++perArg[*idx];
    }
  }
  // runc adds nothing for a rule that does what the default action does.
  if (*action == defaultAction) return absl::OkStatus();
  bool repeatedArg = std::any_of(perArg.begin(), perArg.end(), [](int n) { return n > 1; });

  for (const auto& [f, name] : names) {
    if (!wellFormedSyscallName(name)) {
      return fieldError(f, absl::StrCat("invalid system call name ", jsonQuoted(name)));
    }
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      // runc skips what this libseccomp does not know (newer calls, other
      // architectures' calls), so a profile written for a newer kernel still works.
      VLOG(2) << "seccomp profile: " << f << ": system call " << name
              << " unknown to libseccomp here; ignored, as the runtime does";
      continue;
    }
    auto refuse = [&](int rc) {
      return fieldError(f, absl::StrCat("libseccomp refused the rule for ", jsonQuoted(name), ": ",
                                        std::strerror(-rc)));
    };
    // Several conditions on one argument: each its own rule (OR), as runc does.
    if (repeatedArg) {
      for (const auto& c : conditions) {
        if (int rc = seccomp_rule_add_array(ctx, *action, nr, 1, &c); rc < 0) return refuse(rc);
      }
    } else if (int rc = seccomp_rule_add_array(ctx, *action, nr,
                                               static_cast<unsigned>(conditions.size()),
                                               conditions.empty() ? nullptr : conditions.data());
               rc < 0) {
      return refuse(rc);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status checkSeccompProfileJson(std::string_view text) {
  json profile = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (profile.is_discarded()) {
    // Parse again for the parser's message (where the JSON breaks).
    try {
      json discarded = json::parse(text);
      (void)discarded;
    } catch (const json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
    }
    return absl::InvalidArgumentError("not valid JSON");
  }
  if (!profile.is_object()) return absl::InvalidArgumentError("not a JSON object");

  if (!profile.contains("defaultAction") || profile["defaultAction"].is_null()) {
    return fieldError("defaultAction", "missing");
  }
  auto defaultName = stringAt(profile, "defaultAction", "defaultAction");
  if (!defaultName.ok()) return defaultName.status();
  std::optional<uint64_t> defaultErrno;
  if (present(profile, "defaultErrnoRet")) {
    auto v = uintAt(profile, "defaultErrnoRet", "defaultErrnoRet");
    if (!v.ok()) return v.status();
    defaultErrno = *v;
  }
  auto defaultAction = parseAction(*defaultName, defaultErrno, "defaultAction");
  if (!defaultAction.ok()) return defaultAction.status();
  if (*defaultAction == SCMP_ACT_NOTIFY) {
    return fieldError("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
  }
  Filter ctx(seccomp_init(*defaultAction));
  if (!ctx) {
    return fieldError("defaultAction",
                      absl::StrCat("libseccomp refused action ", jsonQuoted(*defaultName)));
  }

  if (profile.contains("architectures") && !profile["architectures"].is_null()) {
    RETURN_IF_ERROR(checkArchList(profile["architectures"], "architectures", ctx.get()));
  }
  if (profile.contains("archMap") && !profile["archMap"].is_null()) {
    const json& map = profile["archMap"];
    if (!map.is_array()) return fieldError("archMap", "expected a list");
    for (size_t i = 0; i < map.size(); ++i) {
      std::string f = absl::StrCat("archMap[", i, "]");
      if (!map[i].is_object()) return fieldError(f, "expected an object");
      if (map[i].contains("architecture")) {
        RETURN_IF_ERROR(
            checkArchList(json::array({map[i]["architecture"]}), f + ".architecture", nullptr));
      }
      if (map[i].contains("subArchitectures") && !map[i]["subArchitectures"].is_null()) {
        RETURN_IF_ERROR(
            checkArchList(map[i]["subArchitectures"], f + ".subArchitectures", nullptr));
      }
    }
  }
  RETURN_IF_ERROR(checkFlags(profile));

  if (profile.contains("syscalls") && !profile["syscalls"].is_null()) {
    const json& syscalls = profile["syscalls"];
    if (!syscalls.is_array()) return fieldError("syscalls", "expected a list");
    for (size_t i = 0; i < syscalls.size(); ++i) {
      RETURN_IF_ERROR(addSyscallRules(syscalls[i], i, *defaultAction, ctx.get()));
    }
  }
  return absl::OkStatus();
}

absl::Status checkSeccompProfileFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": not found"));
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  auto text = core::readFile(path);
  if (!text.ok()) return absl::InvalidArgumentError(std::string(text.status().message()));
  absl::Status s = checkSeccompProfileJson(*text);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  return absl::OkStatus();
}

}  // namespace agent::runtime
