// A small Prometheus metrics library, enough for the kubelet's endpoints: counters,
// gauges and histograms, alone or in labelled families, collected into typed
// snapshots and written in the text exposition format 0.0.4 exactly as the Go
// client (prometheus/common expfmt) writes it: families sorted by name, each
// family's series sorted by label values, labels sorted by name with `le` last,
// floats in Go's shortest 'g' form ("1e+06", "0.005", "+Inf").
//
// Help texts carry component-base's stability prefix ("[ALPHA] ", "[STABLE] ")
// unless the metric is registered raw (the process collector's), as upstream.
//
// Threading: updating a metric (inc/set/observe, with()) is thread-safe and cheap
// (relaxed atomics; with() takes its family's mutex, so hot paths may keep the
// returned reference: it stays valid until remove() of that series or the family's
// destruction). collect() may run concurrently with updates; a histogram's _count
// always equals its +Inf bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agent::metrics {

// The exposition's Content-Type.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

// component-base's stability levels; kRaw is a collector registered without one
// (its help text is not annotated).
enum class StabilityLevel { kRaw, kInternal, kAlpha, kBeta, kStable };

struct LabelPair {
  std::string name;
  std::string value;
};

// One series at collection time.
struct Sample {
  std::vector<LabelPair> labels;  // any order: rendering sorts them by name
  double value = 0;               // counter and gauge
  // Histogram: upper bounds (ascending, without +Inf) and the cumulative count at
  // each; `count` is the +Inf bucket.
  std::vector<double> bucketBounds;
  std::vector<uint64_t> cumulativeCounts;
  uint64_t count = 0;
  double sum = 0;
  std::optional<int64_t> timestampMs;
};

struct FamilySnapshot {
  std::string name;
  std::string help;  // already annotated
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;  // a family without samples is not written
};

// Writes the families in the text format (sorted; see the file comment).
std::string renderText(std::vector<FamilySnapshot> families);

// Go's strconv.FormatFloat(v, 'g', -1, 64) as expfmt uses it ("+Inf", "NaN").
std::string formatFloat(double v);
// Escaping of label values (\\, \", \n) and of help texts (\\, \n).
std::string escapeLabelValue(std::string_view s);
std::string escapeHelp(std::string_view s);
// "[ALPHA] help", or `help` itself for kRaw.
std::string annotateHelp(StabilityLevel level, std::string_view help);

// prometheus.DefBuckets and the bucket generators, computed as Go computes them
// (repeated multiplication), so the `le` values print identically.
std::vector<double> defaultBuckets();
std::vector<double> exponentialBuckets(double start, double factor, int count);
std::vector<double> linearBuckets(double start, double width, int count);

// Anything that contributes families to a registry.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(std::vector<FamilySnapshot>& out) const = 0;
};

struct MetricOpts {
  std::string name;  // the full name, e.g. "kubelet_running_pods"
  std::string help;
  StabilityLevel stability = StabilityLevel::kAlpha;
  std::vector<double> buckets;  // histograms only
};

// --- the values -------------------------------------------------------------

class Counter {
 public:
  static constexpr MetricType kType = MetricType::kCounter;
  explicit Counter(const MetricOpts& /*opts*/ = {}) {}
  // Negative increments are ignored (a counter only goes up).
  void inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }
  void snapshot(Sample& s) const { s.value = value(); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  static constexpr MetricType kType = MetricType::kGauge;
  explicit Gauge(const MetricOpts& /*opts*/ = {}) {}
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }
  void snapshot(Sample& s) const { s.value = value(); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  static constexpr MetricType kType = MetricType::kHistogram;
  // Uses opts.buckets (sorted ascending; a trailing +Inf is dropped).
  explicit Histogram(const MetricOpts& opts);
  // A value equal to a bound falls in that bucket (`le`).
  void observe(double v);
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  void snapshot(Sample& s) const;

 private:
  std::vector<double> bounds_;
  // Per bucket (not cumulative), plus one for values above the last bound.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// --- families ---------------------------------------------------------------

// A metric without labels: always exposed (0 until changed), as Go's plain
// Counter/Gauge/Histogram.
template <class T>
class Metric : public Collector, public T {
 public:
  explicit Metric(MetricOpts opts) : T(opts), opts_(std::move(opts)) {}
  void collect(std::vector<FamilySnapshot>& out) const override {
    FamilySnapshot f{opts_.name, annotateHelp(opts_.stability, opts_.help), T::kType, {}};
    f.samples.emplace_back();
    T::snapshot(f.samples.back());
    out.push_back(std::move(f));
  }

 private:
  MetricOpts opts_;
};

// A labelled family (Go's *Vec): a series exists once with() created it. A family
// declared with no label names is still lazy (upstream's HistogramVec with []string{}).
template <class T>
class MetricVec : public Collector {
 public:
  MetricVec(MetricOpts opts, std::vector<std::string> labelNames)
      : opts_(std::move(opts)), labelNames_(std::move(labelNames)) {}

  // The series for these label values, in the order of the label names; created
  // on first use. A wrong number of values is a programming error: it is logged
  // and the values are padded or cut to fit.
  T& with(std::vector<std::string> labelValues);
  // Drops a series; true when it existed. References to it become dangling.
  bool remove(const std::vector<std::string>& labelValues);
  // Drops every series whose labels have all of `match`'s values; returns how
  // many. A label name the family does not have matches nothing.
  size_t removeMatching(const std::vector<LabelPair>& match);
  size_t size() const;
  const std::vector<std::string>& labelNames() const { return labelNames_; }

  void collect(std::vector<FamilySnapshot>& out) const override;

 private:
  MetricOpts opts_;
  std::vector<std::string> labelNames_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

using CounterMetric = Metric<Counter>;
using GaugeMetric = Metric<Gauge>;
using HistogramMetric = Metric<Histogram>;
using CounterVec = MetricVec<Counter>;
using GaugeVec = MetricVec<Gauge>;
using HistogramVec = MetricVec<Histogram>;

extern template class MetricVec<Counter>;
extern template class MetricVec<Gauge>;
extern template class MetricVec<Histogram>;

// A list of collectors rendered together. Does not own them.
class Registry {
 public:
  void add(const Collector& c) { collectors_.push_back(&c); }
  void collect(std::vector<FamilySnapshot>& out) const;
  std::string render() const;

 private:
  std::vector<const Collector*> collectors_;
};

}  // namespace agent::metrics
