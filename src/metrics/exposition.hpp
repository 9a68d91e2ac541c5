// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace wspush::metrics {

// One label of a sample: name and value; the value is escaped when written.
using Label = std::pair<std::string_view, std::string_view>;

// Writes the Prometheus text format 0.0.4: each family's # HELP and # TYPE once, then its
// samples. Names are the caller's (valid by construction); label values and help texts are
// escaped as the format requires.
class Exposition
{
public:
    enum class Type
    {
        Counter,
        Gauge,
        Histogram
    };

    void family(std::string_view name, Type type, std::string_view help);
    void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
    void sample(std::string_view name, std::initializer_list<Label> labels, std::int64_t value);
    void sample(std::string_view name, std::initializer_list<Label> labels, double value);

    const std::string& text() const noexcept { return text_; }
    std::string take() noexcept { return std::move(text_); }

private:
    void begin(std::string_view name, std::initializer_list<Label> labels);

    std::string text_;
};

// `\` as `\\`, `"` as `\"`, a newline as `\n`: a label value as the format writes it.
void appendLabelValue(std::string_view value, std::string& out);
// A double as the format reads it: shortest round-trip digits, +Inf, -Inf, NaN.
void appendValue(double value, std::string& out);

// A histogram of durations in seconds with fixed buckets, cumulative as written.
class Histogram
{
public:
    // Upper bounds in seconds: 1 ms to 10 s, for a round trip over anything from loopback
    // to a congested mobile link.
    static constexpr std::array<double, 13> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

    void observe(std::chrono::microseconds duration) noexcept;
    // _bucket (with le, +Inf last), _sum and _count under `name`; family() comes first.
    void write(Exposition& out, std::string_view name) const;

    std::uint64_t count() const noexcept { return count_; }

private:
    std::array<std::uint64_t, bounds.size()> buckets_{}; // not cumulative
    std::uint64_t count_ = 0;
    double sum_ = 0; // seconds
};

} // namespace wspush::metrics
