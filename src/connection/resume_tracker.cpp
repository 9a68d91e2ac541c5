// SPDX-License-Identifier: MIT
#include "connection/resume_tracker.hpp"

#include <memory>

#include <json/reader.h>

#include "connection/json_pointer.hpp"

namespace wspush::connection {

namespace {

std::optional<Json::Value> parse(std::string_view payload) noexcept
{
    try {
        thread_local const std::unique_ptr<Json::CharReader> reader = [] {
            Json::CharReaderBuilder builder;
            builder["collectComments"] = false;
            builder["allowComments"] = false;
            builder["strictRoot"] = false;
            return std::unique_ptr<Json::CharReader>(builder.newCharReader());
        }();
        Json::Value root;
        std::string errors;
        if (!reader->parse(payload.data(), payload.data() + payload.size(), &root, &errors))
            return std::nullopt;
        return root;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<std::string> idText(const Json::Value* value)
{
    if (value == nullptr)
        return std::nullopt;
    if (value->isString())
        return value->asString();
    if (value->isInt64())
        return std::to_string(value->asInt64());
    if (value->isUInt64())
        return std::to_string(value->asUInt64());
    return std::nullopt;
}

} // namespace

ResumeTracker::ResumeTracker(const config::ResumeConfig& config) : config_(config) {}

ResumeTracker::Fields ResumeTracker::fieldsOf(std::string_view payload) const noexcept
{
    Fields fields;
    if (!isActive())
        return fields;
    const auto root = parse(payload);
    if (!root)
        return fields;
    try {
        if (!config_.id.empty())
            fields.id = idText(resolvePointer(*root, config_.id));
        if (!config_.sequence.empty()) {
            const Json::Value* sequence = resolvePointer(*root, config_.sequence);
            if (sequence != nullptr && sequence->isInt64())
                fields.sequence = sequence->asInt64();
        }
    } catch (const std::exception&) {
    }
    return fields;
}

ResumeTracker::Verdict ResumeTracker::inspect(std::string_view payload, bool binary) noexcept
{
    Verdict verdict;
    if (binary)
        return verdict;
    Fields fields = fieldsOf(payload);
    verdict.id = std::move(fields.id);
    if (verdict.id && seen_.contains(*verdict.id)) {
        verdict.duplicate = true;
        return verdict;
    }
    if (verdict.id)
        rememberId(*verdict.id);
    if (!fields.sequence)
        return verdict;
    if (lastSequence_ && *fields.sequence != *lastSequence_ + 1)
        verdict.gap = Gap{*lastSequence_ + 1, *fields.sequence};
    lastSequence_ = fields.sequence;
    return verdict;
}

void ResumeTracker::rememberId(std::string id) noexcept
{
    if (config_.dedup == 0)
        return;
    try {
        if (!seen_.insert(id).second)
            return;
        order_.push_back(std::move(id));
        if (order_.size() > config_.dedup) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
    } catch (const std::bad_alloc&) {
        seen_.clear();
        order_.clear();
    }
}

void ResumeTracker::reconfigure(const config::ResumeConfig& config)
{
    if (config.id != config_.id) {
        seen_.clear();
        order_.clear();
    }
    if (config.sequence != config_.sequence)
        lastSequence_.reset();
    config_ = config;
    while (order_.size() > config_.dedup) {
        seen_.erase(order_.front());
        order_.pop_front();
    }
}

} // namespace wspush::connection
