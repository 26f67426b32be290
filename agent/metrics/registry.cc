#include "agent/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/log.h"

namespace agent::metrics {

std::string formatFloat(double v) {
  // expfmt's writeFloat special-cases these before strconv.
  if (v == 0) return "0";
  if (v == 1) return "1";
  if (v == -1) return "-1";
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";

  // The shortest round-trip digits (the same digits Go's shortest mode finds),
  // then Go's %g layout: %e when the exponent is < -4 or >= 6 (the precision Go
  // assumes for shortest output), %f otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string_view expText = sci.substr(e + 1);
  bool expNeg = !expText.empty() && expText.front() == '-';
  if (!expText.empty() && (expText.front() == '-' || expText.front() == '+')) {
    expText.remove_prefix(1);
  }
  int exp = 0;
  std::from_chars(expText.data(), expText.data() + expText.size(), exp);
  if (expNeg) exp = -exp;

  const int nd = static_cast<int>(digits.size());
  if (exp < -4 || exp >= 6) {
    out.push_back(digits[0]);
    if (nd > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    int a = std::abs(exp);
    if (a < 10) out.push_back('0');
    out.append(std::to_string(a));
    return out;
  }
  const int dp = exp + 1;  // digits before the decimal point
  if (dp <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-dp), '0');
    out.append(digits);
  } else if (dp >= nd) {
    out.append(digits);
    out.append(static_cast<size_t>(dp - nd), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(dp));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(dp), std::string::npos);
  }
  return out;
}

std::string escapeLabelValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string escapeHelp(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string annotateHelp(StabilityLevel level, std::string_view help) {
  std::string_view prefix;
  switch (level) {
    case StabilityLevel::kRaw:
      return std::string(help);
    case StabilityLevel::kInternal:
      prefix = "[INTERNAL] ";
      break;
    case StabilityLevel::kAlpha:
      prefix = "[ALPHA] ";
      break;
    case StabilityLevel::kBeta:
      prefix = "[BETA] ";
      break;
    case StabilityLevel::kStable:
      prefix = "[STABLE] ";
      break;
  }
  std::string out(prefix);
  out.append(help);
  return out;
}

std::vector<double> defaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

std::vector<double> exponentialBuckets(double start, double factor, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) {
    b.push_back(start);
    start *= factor;
  }
  return b;
}

std::vector<double> linearBuckets(double start, double width, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) {
    b.push_back(start);
    start += width;
  }
  return b;
}

// --- values -----------------------------------------------------------------

void Counter::inc(double v) {
  if (!(v >= 0)) return;
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

Histogram::Histogram(const MetricOpts& opts) : bounds_(opts.buckets) {
  std::sort(bounds_.begin(), bounds_.end());
  while (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // sort.SearchFloat64s: the first bound >= v.
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

void Histogram::snapshot(Sample& s) const {
  s.bucketBounds = bounds_;
  s.cumulativeCounts.resize(bounds_.size());
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i].load(std::memory_order_relaxed);
    s.cumulativeCounts[i] = cum;
  }
  cum += counts_[bounds_.size()].load(std::memory_order_relaxed);
  s.count = cum;
  s.sum = sum();
}

// --- families ---------------------------------------------------------------

template <class T>
T& MetricVec<T>::with(std::vector<std::string> labelValues) {
  if (labelValues.size() != labelNames_.size()) {
    LOG_ERROR << "metric " << opts_.name << ": " << labelValues.size() << " label values for "
              << labelNames_.size() << " labels";
    labelValues.resize(labelNames_.size());
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(labelValues);
  if (it == series_.end()) {
    it = series_.emplace(std::move(labelValues), std::make_unique<T>(opts_)).first;
  }
  return *it->second;
}

template <class T>
bool MetricVec<T>::remove(const std::vector<std::string>& labelValues) {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.erase(labelValues) > 0;
}

template <class T>
size_t MetricVec<T>::removeMatching(const std::vector<LabelPair>& match) {
  std::vector<std::pair<size_t, const std::string*>> conds;
  for (const LabelPair& m : match) {
    auto pos = std::find(labelNames_.begin(), labelNames_.end(), m.name);
    if (pos == labelNames_.end()) return 0;
    conds.emplace_back(static_cast<size_t>(pos - labelNames_.begin()), &m.value);
  }
  std::lock_guard<std::mutex> lock(mu_);
  return std::erase_if(series_, [&](const auto& kv) {
    for (const auto& [idx, value] : conds) {
      if (kv.first[idx] != *value) return false;
    }
    return true;
  });
}

template <class T>
size_t MetricVec<T>::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

template <class T>
void MetricVec<T>::collect(std::vector<FamilySnapshot>& out) const {
  FamilySnapshot f{opts_.name, annotateHelp(opts_.stability, opts_.help), T::kType, {}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    f.samples.reserve(series_.size());
    for (const auto& [values, metric] : series_) {
      Sample s;
      s.labels.reserve(values.size());
      for (size_t i = 0; i < values.size(); ++i) s.labels.push_back({labelNames_[i], values[i]});
      metric->snapshot(s);
      f.samples.push_back(std::move(s));
    }
  }
  if (!f.samples.empty()) out.push_back(std::move(f));
}

template class MetricVec<Counter>;
template class MetricVec<Gauge>;
template class MetricVec<Histogram>;

void Registry::collect(std::vector<FamilySnapshot>& out) const {
  for (const Collector* c : collectors_) c->collect(out);
}

std::string Registry::render() const {
  std::vector<FamilySnapshot> families;
  collect(families);
  return renderText(std::move(families));
}

// --- exposition -------------------------------------------------------------

namespace {

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void writeSample(std::string& out, const std::string& name, std::string_view suffix,
                 const std::vector<LabelPair>& labels, const std::string* le, double value,
                 const std::optional<int64_t>& ts) {
  out.append(name);
  out.append(suffix);
  if (!labels.empty() || le) {
    out.push_back('{');
    bool first = true;
    for (const LabelPair& l : labels) {
      if (!first) out.push_back(',');
      first = false;
      out.append(l.name);
      out.append("=\"");
      out.append(escapeLabelValue(l.value));
      out.push_back('"');
    }
    if (le) {
      if (!first) out.push_back(',');
      out.append("le=\"");
      out.append(*le);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(formatFloat(value));
  if (ts) {
    out.push_back(' ');
    out.append(std::to_string(*ts));
  }
  out.push_back('\n');
}

bool sampleLess(const Sample& a, const Sample& b) {
  // client_golang's MetricSorter: labels (sorted by name already) compared by
  // count, then value by value; then by timestamp, a missing one last.
  if (a.labels.size() != b.labels.size()) return a.labels.size() < b.labels.size();
  for (size_t i = 0; i < a.labels.size(); ++i) {
    if (a.labels[i].value != b.labels[i].value) return a.labels[i].value < b.labels[i].value;
  }
  if (a.timestampMs && b.timestampMs) return *a.timestampMs < *b.timestampMs;
  return a.timestampMs.has_value() && !b.timestampMs.has_value();
}

}  // namespace

std::string renderText(std::vector<FamilySnapshot> families) {
  std::stable_sort(
      families.begin(), families.end(),
      [](const FamilySnapshot& a, const FamilySnapshot& b) { return a.name < b.name; });
  // Two collectors contributing the same family are written as one.
  for (size_t i = 1; i < families.size();) {
    if (families[i].name == families[i - 1].name) {
      auto& into = families[i - 1].samples;
      for (Sample& s : families[i].samples) into.push_back(std::move(s));
      families.erase(families.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }

  std::string out;
  for (FamilySnapshot& f : families) {
    if (f.samples.empty()) continue;
    for (Sample& s : f.samples) {
      std::sort(s.labels.begin(), s.labels.end(),
                [](const LabelPair& a, const LabelPair& b) { return a.name < b.name; });
    }
    std::stable_sort(f.samples.begin(), f.samples.end(), sampleLess);

    out.append("# HELP ");
    out.append(f.name);
    out.push_back(' ');
    out.append(escapeHelp(f.help));
    out.append("\n# TYPE ");
    out.append(f.name);
    out.push_back(' ');
    out.append(typeName(f.type));
    out.push_back('\n');
    for (const Sample& s : f.samples) {
      if (f.type != MetricType::kHistogram) {
        writeSample(out, f.name, "", s.labels, nullptr, s.value, s.timestampMs);
        continue;
      }
      for (size_t i = 0; i < s.bucketBounds.size(); ++i) {
        std::string le = formatFloat(s.bucketBounds[i]);
        uint64_t c = i < s.cumulativeCounts.size() ? s.cumulativeCounts[i] : s.count;
        writeSample(out, f.name, "_bucket", s.labels, &le, static_cast<double>(c), s.timestampMs);
      }
      const std::string inf = "+Inf";
      writeSample(out, f.name, "_bucket", s.labels, &inf, static_cast<double>(s.count),
                  s.timestampMs);
      writeSample(out, f.name, "_sum", s.labels, nullptr, s.sum, s.timestampMs);
      writeSample(out, f.name, "_count", s.labels, nullptr, static_cast<double>(s.count),
                  s.timestampMs);
    }
  }
  return out;
}

}  // namespace agent::metrics
