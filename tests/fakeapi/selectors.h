// Label and field selectors as the kube-apiserver parses them from the labelSelector and
// fieldSelector query parameters, and their evaluation against stored objects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace cubelet::fakeapi {

struct ResourceInfo;

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  // Grammar of k8s.io/apimachinery/pkg/labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
  // `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma = AND. Errors → 400 BadRequest.
  static absl::StatusOr<LabelSelector> parse(const std::string& text);
  // `labels` is metadata.labels (may be null).
  bool matches(const nlohmann::json& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

class FieldSelector {
 public:
  struct Term {
    std::string field;
    bool negated = false;
    std::string value;
  };
  // `f=v`, `f==v`, `f!=v`, comma = AND, backslash escapes. Fields other than
  // metadata.name, metadata.namespace and the resource's field labels →
  // 400 BadRequest "field label not supported: <f>".
  static absl::StatusOr<FieldSelector> parse(const std::string& text, const ResourceInfo& r);
  bool matches(const nlohmann::json& obj) const;
  bool empty() const { return terms_.empty(); }
  // The value required by an `f=v` term, if any (the Node authorizer needs it).
  std::optional<std::string> requiredValue(const std::string& field) const;

 private:
  std::vector<Term> terms_;
};

// The value of a selectable field of `obj` as upstream renders it ("" when unset,
// booleans as "true"/"false").
std::string fieldValue(const nlohmann::json& obj, const std::string& field);

}  // namespace cubelet::fakeapi
