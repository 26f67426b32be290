#include "tests/fakeapi/selectors.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_split.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {
namespace {

bool isLabelChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/';
}

// A small tokenizer for the label selector grammar.
class LabelLexer {
 public:
  enum class Tok {
    kEnd,
    kIdent,
    kComma,
    kOpen,
    kClose,
    kEq,
    kDoubleEq,
    kNotEq,
    kBang,
    kGt,
    kLt,
    kIn,
    kNotIn,
    kBad
  };
  explicit LabelLexer(const std::string& s) : s_(s) {}

  Tok next(std::string* text) {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    text->clear();
    if (pos_ >= s_.size()) return Tok::kEnd;
    char c = s_[pos_];
    auto two = [&](char d) { return pos_ + 1 < s_.size() && s_[pos_ + 1] == d; };
    switch (c) {
      case ',':
        ++pos_;
        return Tok::kComma;
      case '(':
        ++pos_;
        return Tok::kOpen;
      case ')':
        ++pos_;
        return Tok::kClose;
      case '>':
        ++pos_;
        return Tok::kGt;
      case '<':
        ++pos_;
        return Tok::kLt;
      case '=':
        if (two('=')) {
          pos_ += 2;
          return Tok::kDoubleEq;
        }
        ++pos_;
        return Tok::kEq;
      case '!':
        if (two('=')) {
          pos_ += 2;
          return Tok::kNotEq;
        }
        ++pos_;
        return Tok::kBang;
      default:
        break;
    }
    if (!isLabelChar(c)) {
      *text = std::string(1, c);
      ++pos_;
      return Tok::kBad;
    }
    size_t start = pos_;
    while (pos_ < s_.size() && isLabelChar(s_[pos_])) ++pos_;
    *text = s_.substr(start, pos_ - start);
    if (*text == "in") return Tok::kIn;
    if (*text == "notin") return Tok::kNotIn;
    return Tok::kIdent;
  }
  size_t pos() const { return pos_; }
  void rewind(size_t p) { pos_ = p; }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

absl::Status labelError(const std::string& text, const std::string& why) {
  return badRequest("unable to parse requirement: " + why + " (in selector \"" + text + "\")");
}

bool validLabelValue(const std::string& v) {
  if (v.size() > 63) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return c != '/'; });
}

const nlohmann::json* lookup(const nlohmann::json& obj, const std::string& dotted) {
  const nlohmann::json* cur = &obj;
  for (const auto& part : absl::StrSplit(dotted, '.')) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(part));
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelSelector sel;
  LabelLexer lex(text);
  using Tok = LabelLexer::Tok;
  std::string t;
  Tok tok = lex.next(&t);
  if (tok == Tok::kEnd) return sel;
  while (true) {
    Requirement req;
    if (tok == Tok::kBang) {
      if (lex.next(&t) != Tok::kIdent) return labelError(text, "expected a key after '!'");
      req.key = t;
      req.op = Op::kDoesNotExist;
      tok = lex.next(&t);
    } else if (tok == Tok::kIdent) {
      req.key = t;
      size_t save = lex.pos();
      tok = lex.next(&t);
      switch (tok) {
        case Tok::kEnd:
        case Tok::kComma:
          req.op = Op::kExists;
          break;
        case Tok::kEq:
        case Tok::kDoubleEq:
        case Tok::kNotEq:
        case Tok::kGt:
        case Tok::kLt: {
          req.op = tok == Tok::kNotEq ? Op::kNotEquals
                   : tok == Tok::kGt  ? Op::kGt
                   : tok == Tok::kLt  ? Op::kLt
                                      : Op::kEquals;
          save = lex.pos();
          Tok v = lex.next(&t);
          if (v == Tok::kIdent || v == Tok::kIn || v == Tok::kNotIn) {
            req.values.push_back(t);
          } else if (v == Tok::kEnd || v == Tok::kComma) {
            req.values.push_back("");  // `k=` selects an empty value
            lex.rewind(save);
          } else {
            return labelError(text, "found '" + t + "', expected: identifier");
          }
          if ((req.op == Op::kGt || req.op == Op::kLt) &&
              (req.values[0].empty() ||
               !std::all_of(req.values[0].begin(), req.values[0].end(), ::isdigit))) {
            return labelError(text, "for 'Gt', 'Lt' operators, the value must be an integer");
          }
          tok = lex.next(&t);
          break;
        }
        case Tok::kIn:
        case Tok::kNotIn: {
          req.op = tok == Tok::kIn ? Op::kIn : Op::kNotIn;
          if (lex.next(&t) != Tok::kOpen)
            return labelError(text, "found '" + t + "', expected: '('");
          while (true) {
            Tok v = lex.next(&t);
            if (v == Tok::kIdent) {
              req.values.push_back(t);
              v = lex.next(&t);
            } else {
              req.values.push_back("");
            }
            if (v == Tok::kClose) break;
            if (v != Tok::kComma)
              return labelError(text, "found '" + t + "', expected: ',' or ')'");
          }
          tok = lex.next(&t);
          break;
        }
        default:
          return labelError(text, "found '" + t + "', expected: in, notin, =, ==, !=, gt, lt");
      }
      (void)save;
    } else {
      return labelError(text, "found '" + t + "', expected: !, identifier, or 'end of string'");
    }
    for (const auto& v : req.values) {
      if (!validLabelValue(v)) return labelError(text, "invalid label value: \"" + v + "\"");
    }
    sel.reqs_.push_back(std::move(req));
    if (tok == Tok::kEnd) break;
    if (tok != Tok::kComma)
      return labelError(text, "found '" + t + "', expected: ',' or 'end of string'");
    tok = lex.next(&t);
  }
  return sel;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  for (const auto& r : reqs_) {
    const bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    const std::string val = has ? labels[r.key].get<std::string>() : "";
    auto in = [&] { return std::find(r.values.begin(), r.values.end(), val) != r.values.end(); };
    bool ok = false;
    switch (r.op) {
      case Op::kEquals:
        ok = has && val == r.values[0];
        break;
      case Op::kNotEquals:
        ok = !has || val != r.values[0];
        break;
      case Op::kIn:
        ok = has && in();
        break;
      case Op::kNotIn:
        ok = !has || !in();
        break;
      case Op::kExists:
        ok = has;
        break;
      case Op::kDoesNotExist:
        ok = !has;
        break;
      case Op::kGt:
      case Op::kLt: {
        if (!has || val.empty() || !std::all_of(val.begin(), val.end(), ::isdigit)) break;
        long long a = std::stoll(val), b = std::stoll(r.values[0]);
        ok = r.op == Op::kGt ? a > b : a < b;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<FieldSelector> FieldSelector::parse(const std::string& text, const ResourceInfo& r) {
  FieldSelector sel;
  if (text.empty()) return sel;
  // Split on unescaped commas, then on the first unescaped operator.
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      cur += text.substr(i, 2);
      ++i;
    } else if (text[i] == ',') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += text[i];
    }
  }
  parts.push_back(cur);
  for (const auto& part : parts) {
    if (part.empty()) continue;
    Term term;
    size_t op = std::string::npos, oplen = 0;
    for (size_t i = 0; i < part.size(); ++i) {
      if (part[i] == '\\') {
        ++i;
        continue;
      }
      if (part.compare(i, 2, "!=") == 0) {
        op = i, oplen = 2, term.negated = true;
      } else if (part.compare(i, 2, "==") == 0) {
        op = i, oplen = 2;
      } else if (part[i] == '=') {
        op = i, oplen = 1;
      }
      if (op != std::string::npos) break;
    }
    if (op == std::string::npos) {
      return badRequest("invalid selector: '" + text + "'; can't understand '" + part + "'");
    }
    term.field = part.substr(0, op);
    std::string raw = part.substr(op + oplen);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
      term.value += raw[i];
    }
    const auto& labels = r.fieldLabels;
    if (term.field != "metadata.name" && term.field != "metadata.namespace" &&
        std::find(labels.begin(), labels.end(), term.field) == labels.end()) {
      return badRequest("field label not supported: " + term.field);
    }
    sel.terms_.push_back(std::move(term));
  }
  return sel;
}

bool FieldSelector::matches(const nlohmann::json& obj) const {
  for (const auto& t : terms_) {
    if ((fieldValue(obj, t.field) == t.value) == t.negated) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::requiredValue(const std::string& field) const {
  for (const auto& t : terms_) {
    if (t.field == field && !t.negated) return t.value;
  }
  return std::nullopt;
}

std::string fieldValue(const nlohmann::json& obj, const std::string& field) {
  // Events use "source" for source.component.
  const nlohmann::json* v = lookup(obj, field == "source" ? "source.component" : field);
  if (v == nullptr || v->is_null())
    return field == "spec.hostNetwork" || field == "spec.unschedulable" ? "false" : "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

}  // namespace cubelet::fakeapi
