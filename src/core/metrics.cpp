#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace nimbus::metrics {
namespace {

std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
    return fmt::format("{}", value);
}

/// `{a="1",b="2"}` plus an optional extra label (le for histogram buckets).
std::string label_text(const std::vector<std::string>& names, const LabelValues& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return "";
    std::string out = "{";
    for (std::size_t label_idx = 0; label_idx < names.size(); ++label_idx) {
        if (label_idx > 0) out.push_back(',');
        std::string_view value =
            label_idx < values.size() ? std::string_view(values[label_idx]) : "";
        out += fmt::format("{}=\"{}\"", names[label_idx], escape_label(value));
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out.push_back(',');
        out += fmt::format("{}=\"{}\"", extra_name, extra_value);
    }
    return out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help,
            std::string_view type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : bounds_(upper_bounds),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds.size() + 1)) {}

void Histogram::observe(double value) {
    auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
    std::vector<std::uint64_t> out(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t bucket_idx = 0; bucket_idx < out.size(); ++bucket_idx) {
        running += counts_[bucket_idx].load(std::memory_order_relaxed);
        out[bucket_idx] = running;
    }
    return out;
}

const std::vector<double>& default_latency_buckets() {
    static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                 0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                 1,      2.5,     5,      10};
    return kBuckets;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> labels) {
    std::lock_guard lock(mutex_);
    counters_.push_back(
        std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels),
                                          [] { return std::make_unique<Counter>(); }));
    return *counters_.back();
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> labels) {
    std::lock_guard lock(mutex_);
    gauges_.push_back(std::make_unique<Family<Gauge>>(std::move(name), std::move(help),
                                                      std::move(labels),
                                                      [] { return std::make_unique<Gauge>(); }));
    return *gauges_.back();
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> labels,
                                       std::vector<double> upper_bounds) {
    std::lock_guard lock(mutex_);
    std::sort(upper_bounds.begin(), upper_bounds.end());
    bucket_sets_.push_back(std::make_unique<std::vector<double>>(std::move(upper_bounds)));
    const std::vector<double>* bounds = bucket_sets_.back().get();
    histograms_.push_back(std::make_unique<Family<Histogram>>(
        std::move(name), std::move(help), std::move(labels),
        [bounds] { return std::make_unique<Histogram>(*bounds); }));
    return *histograms_.back();
}

void Registry::gauge_callback(std::string name, std::string help, std::function<double()> read) {
    std::lock_guard lock(mutex_);
    callbacks_.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string Registry::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& family : counters_) {
        header(out, family->name(), family->help(), "counter");
        family->for_each([&](const LabelValues& values, const Counter& series) {
            out +=
                fmt::format("{}{} {}\n", family->name(), label_text(family->label_names(), values),
                            format_value(series.value()));
        });
    }
    for (const auto& family : gauges_) {
        header(out, family->name(), family->help(), "gauge");
        family->for_each([&](const LabelValues& values, const Gauge& series) {
            out +=
                fmt::format("{}{} {}\n", family->name(), label_text(family->label_names(), values),
                            format_value(series.value()));
        });
    }
    for (const auto& callback : callbacks_) {
        header(out, callback.name, callback.help, "gauge");
        out += fmt::format("{} {}\n", callback.name, format_value(callback.read()));
    }
    for (std::size_t family_idx = 0; family_idx < histograms_.size(); ++family_idx) {
        const auto& family = histograms_[family_idx];
        const std::vector<double>& bounds = *bucket_sets_[family_idx];
        header(out, family->name(), family->help(), "histogram");
        family->for_each([&](const LabelValues& values, const Histogram& series) {
            std::vector<std::uint64_t> counts = series.cumulative_counts();
            for (std::size_t bucket_idx = 0; bucket_idx < bounds.size(); ++bucket_idx) {
                out += fmt::format("{}_bucket{} {}\n", family->name(),
                                   label_text(family->label_names(), values, "le",
                                              format_value(bounds[bucket_idx])),
                                   counts[bucket_idx]);
            }
            out +=
                fmt::format("{}_bucket{} {}\n", family->name(),
                            label_text(family->label_names(), values, "le", "+Inf"), counts.back());
            out +=
                fmt::format("{}_sum{} {}\n", family->name(),
                            label_text(family->label_names(), values), format_value(series.sum()));
            out += fmt::format("{}_count{} {}\n", family->name(),
                               label_text(family->label_names(), values), counts.back());
        });
    }
    return out;
}

}  // namespace nimbus::metrics
