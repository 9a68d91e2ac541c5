// SPDX-License-Identifier: MIT
#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace wspush::metrics {

namespace {

void appendHelp(std::string_view help, std::string& out)
{
    for (const char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

const char* typeName(Exposition::Type type)
{
    switch (type) {
    case Exposition::Type::Counter:
        return "counter";
    case Exposition::Type::Gauge:
        return "gauge";
    case Exposition::Type::Histogram:
        return "histogram";
    }
    return "untyped";
}

template <typename Integer>
void appendInteger(Integer value, std::string& out)
{
    char buffer[24];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
}

} // namespace

void appendLabelValue(std::string_view value, std::string& out)
{
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

void appendValue(double value, std::string& out)
{
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else {
        char buffer[32];
        const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
        out.append(buffer, end);
    }
}

void Exposition::family(std::string_view name, Type type, std::string_view help)
{
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    appendHelp(help, text_);
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += typeName(type);
    text_ += '\n';
}

void Exposition::begin(std::string_view name, std::initializer_list<Label> labels)
{
    text_ += name;
    if (labels.size() != 0) {
        char separator = '{';
        for (const auto& [label, value] : labels) {
            text_ += separator;
            text_ += label;
            text_ += "=\"";
            appendLabelValue(value, text_);
            text_ += '"';
            separator = ',';
        }
        text_ += '}';
    }
    text_ += ' ';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::uint64_t value)
{
    begin(name, labels);
    appendInteger(value, text_);
    text_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::int64_t value)
{
    begin(name, labels);
    appendInteger(value, text_);
    text_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value)
{
    begin(name, labels);
    appendValue(value, text_);
    text_ += '\n';
}

void Histogram::observe(std::chrono::microseconds duration) noexcept
{
    const double seconds = static_cast<double>(duration.count()) / 1e6;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (seconds <= bounds[i]) {
            ++buckets_[i];
            break;
        }
    }
    ++count_;
    sum_ += seconds;
}

void Histogram::write(Exposition& out, std::string_view name) const
{
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += buckets_[i];
        std::string le;
        appendValue(bounds[i], le);
        out.sample(bucket, {{"le", le}}, cumulative);
    }
    out.sample(bucket, {{"le", "+Inf"}}, count_);
    out.sample(std::string(name) + "_sum", {}, sum_);
    out.sample(std::string(name) + "_count", {}, count_);
}

} // namespace wspush::metrics
