// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wspush::testserver {

// Where a (re)connecting client says which message it had last (--resume MODE).
struct ResumeSource
{
    enum class Kind
    {
        None,    // no --resume: every client gets live messages only
        Query,   // query:NAME, the upgrade URL's ?NAME=ID
        Header,  // header:NAME, the upgrade request's NAME: ID
        Message, // message, the first text message {"op":"resume","id":ID}
    };

    Kind kind = Kind::None;
    std::string name; // the query argument or header

    bool operator==(const ResumeSource&) const = default;
};

// Parses --resume's MODE: "query:NAME", "header:NAME" or "message"; nullopt if it is none.
std::optional<ResumeSource> parseResumeSource(std::string_view mode);

// A resume request, the text of a JSON object with "op":"resume" (blanks allowed, other
// members ignored): nullopt if the text is anything else. Otherwise the request's "id", a
// string; nullopt inside when "id" is absent, null or "" (the client has nothing yet).
std::optional<std::optional<std::string>> parseResumeMessage(std::string_view text);

} // namespace wspush::testserver
