// SPDX-License-Identifier: MIT
#include "connection/token.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

#include "system/read_all.hpp"
#include "system/unique_fd.hpp"

namespace wspush::connection {

namespace {

constexpr std::string_view placeholder = "${TOKEN}";

std::string credentialPath(const std::string& name)
{
    const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
    if (directory == nullptr || *directory == '\0')
        throw std::runtime_error("token_credential " + name +
                                 ": $CREDENTIALS_DIRECTORY is not set (is LoadCredential= "
                                 "in the unit?)");
    return std::string(directory) + "/" + name;
}

std::string trim(const std::string& text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string readFile(const std::string& path)
{
    const system::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        throw std::runtime_error("token file " + path + ": cannot open: " + std::strerror(errno));
    try {
        return system::readAll(fd.get(), path);
    } catch (const std::system_error& error) {
        throw std::runtime_error("token file " + path + ": cannot read: " +
                                 error.code().message());
    }
}

} // namespace

std::string readToken(const config::ServerConfig& server)
{
    std::string path;
    if (!server.tokenFile.empty())
        path = server.tokenFile;
    else if (!server.tokenCredential.empty())
        path = credentialPath(server.tokenCredential);
    else
        return {};

    const std::string content = readFile(path);
    std::string token = trim(content);
    if (token.empty())
        throw std::runtime_error("token file " + path + " is empty");
    return token;
}

std::string substitute(std::string_view text, std::string_view placeholder, std::string_view value)
{
    std::string result(text);
    for (auto at = result.find(placeholder); at != std::string::npos;
         at = result.find(placeholder, at + value.size()))
        result.replace(at, placeholder.size(), value);
    return result;
}

std::string substituteToken(std::string_view text, std::string_view token)
{
    return substitute(text, placeholder, token);
}

bool usesToken(std::string_view text) noexcept
{
    return text.find(placeholder) != std::string_view::npos;
}

} // namespace wspush::connection
