#pragma once
/// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
/// exposition format (version 0.0.4) for `/metrics`.
///
///     auto& requests = registry.counter("nimbus_http_requests_total", "Requests served.",
///                                       {"method", "route", "status"});
///     requests.with({"GET", "/healthz", "200"}).inc();
///
/// Thread safe. Series are never removed, so references returned by `with()` stay valid for the
/// registry's lifetime; label values must therefore come from a bounded set (route templates,
/// never raw paths).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace nimbus::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
public:
    void inc(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Gauge {
public:
    void set(double value) { value_.store(value, std::memory_order_relaxed); }
    void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    explicit Histogram(const std::vector<double>& upper_bounds);
    void observe(double value);
    /// Cumulative count per bucket (same order as the bounds), then the +Inf count.
    std::vector<std::uint64_t> cumulative_counts() const;
    double sum() const { return sum_.load(std::memory_order_relaxed); }

private:
    const std::vector<double>& bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, plus +Inf
    std::atomic<double> sum_{0};
};

/// Latency buckets in seconds, from 100 µs to 10 s.
const std::vector<double>& default_latency_buckets();

/// A metric name with its label names and one series per distinct label values.
template <class Series>
class Family {
public:
    Family(std::string name, std::string help, std::vector<std::string> label_names,
           std::function<std::unique_ptr<Series>()> make)
        : name_(std::move(name)),
          help_(std::move(help)),
          label_names_(std::move(label_names)),
          make_(std::move(make)) {}

    /// The series for these label values (as many as label names), created on first use.
    Series& with(const LabelValues& values) {
        {
            std::shared_lock lock(mutex_);
            auto found = series_.find(values);
            if (found != series_.end()) return *found->second;
        }
        std::unique_lock lock(mutex_);
        auto& slot = series_[values];
        if (!slot) slot = make_();
        return *slot;
    }

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }

    /// Calls `visit(values, series)` for each series, in label order.
    template <class Visit>
    void for_each(Visit&& visit) const {
        std::shared_lock lock(mutex_);
        for (const auto& [values, series] : series_) visit(values, *series);
    }

private:
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
    std::function<std::unique_ptr<Series>()> make_;
    mutable std::shared_mutex mutex_;
    std::map<LabelValues, std::unique_ptr<Series>> series_;
};

/// Owns every family; renders them all.
class Registry {
public:
    Family<Counter>& counter(std::string name, std::string help,
                             std::vector<std::string> labels = {});
    Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
    Family<Histogram>& histogram(std::string name, std::string help,
                                 std::vector<std::string> labels,
                                 std::vector<double> upper_bounds = default_latency_buckets());
    /// A gauge whose value is read at render time (resident memory, open connections, ...).
    void gauge_callback(std::string name, std::string help, std::function<double()> read);

    /// The Prometheus text exposition of every metric.
    std::string render() const;

private:
    struct CallbackGauge {
        std::string name;
        std::string help;
        std::function<double()> read;
    };
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Family<Counter>>> counters_;
    std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
    std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
    std::vector<std::unique_ptr<std::vector<double>>> bucket_sets_;
    std::vector<CallbackGauge> callbacks_;
};

}  // namespace nimbus::metrics
