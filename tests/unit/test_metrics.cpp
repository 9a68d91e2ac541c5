// SPDX-License-Identifier: MIT
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "config/listen_address.hpp"
#include "metrics/exposition.hpp"
#include "metrics/http_request.hpp"
#include "metrics/process_figures.hpp"
#include "metrics/render.hpp"
#include "metrics/textfile.hpp"

using namespace std::chrono_literals;
using namespace wspush;
using namespace wspush::metrics;
using Verdict = RequestReader::Verdict;

namespace {

Verdict feedAll(std::string_view bytes)
{
    RequestReader reader;
    return reader.feed(bytes);
}

// Byte by byte, as a slow client sends them; every verdict but the last must be NeedMore.
Verdict feedBytes(std::string_view bytes)
{
    RequestReader reader;
    Verdict verdict = Verdict::NeedMore;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        REQUIRE(verdict == Verdict::NeedMore);
        verdict = reader.feed(bytes.substr(i, 1));
    }
    return verdict;
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("exposition: HELP, TYPE and samples in the text format 0.0.4")
{
    Exposition out;
    out.family("wspushd_x_total", Exposition::Type::Counter, "Things.\nWith a \\ too.");
    out.sample("wspushd_x_total", {}, std::uint64_t{18446744073709551615ULL});
    out.sample("wspushd_x_total", {{"sink", "file:0"}, {"name", "a\"b\\c\nd"}}, std::int64_t{-3});
    out.family("wspushd_y_seconds", Exposition::Type::Gauge, "Time.");
    out.sample("wspushd_y_seconds", {}, 1.5);
    out.sample("wspushd_y_seconds", {}, 1796531626.324264);
    CHECK(out.text() == "# HELP wspushd_x_total Things.\\nWith a \\\\ too.\n"
                        "# TYPE wspushd_x_total counter\n"
                        "wspushd_x_total 18446744073709551615\n"
                        "wspushd_x_total{sink=\"file:0\",name=\"a\\\"b\\\\c\\nd\"} -3\n"
                        "# HELP wspushd_y_seconds Time.\n"
                        "# TYPE wspushd_y_seconds gauge\n"
                        "wspushd_y_seconds 1.5\n"
                        "wspushd_y_seconds 1796531626.324264\n");
}

TEST_CASE("exposition: special values")
{
    std::string text;
    appendValue(1.0 / 0.0, text);
    text += ' ';
    appendValue(-1.0 / 0.0, text);
    text += ' ';
    appendValue(0.0 / 0.0, text);
    text += ' ';
    appendValue(0.001, text);
    CHECK(text == "+Inf -Inf NaN 0.001");
}

TEST_CASE("histogram: cumulative buckets, +Inf, sum and count")
{
    Histogram histogram;
    histogram.observe(500us);   // 0.0005: every bucket
    histogram.observe(1ms);     // on the first bound: counts in it
    histogram.observe(30ms);    // 0.05 and up
    histogram.observe(20000ms); // above the last bound: only +Inf
    Exposition out;
    histogram.write(out, "h_seconds");
    const std::string& text = out.text();
    CHECK(text.find("h_seconds_bucket{le=\"0.001\"} 2\n") != std::string::npos);
    CHECK(text.find("h_seconds_bucket{le=\"0.025\"} 2\n") != std::string::npos);
    CHECK(text.find("h_seconds_bucket{le=\"0.05\"} 3\n") != std::string::npos);
    CHECK(text.find("h_seconds_bucket{le=\"10\"} 3\n") != std::string::npos);
    CHECK(text.find("h_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
    CHECK(text.find("h_seconds_sum 20.0315\n") != std::string::npos);
    CHECK(text.find("h_seconds_count 4\n") != std::string::npos);
    CHECK(histogram.count() == 4);
}

TEST_CASE("render: every family once, sinks labelled, process figures only for a scrape")
{
    Figures figures;
    figures.server = "wss://***@push.example.com/ws";
    figures.linkUp = true;
    figures.connectedSinceUs = 1'500'000;
    figures.received = 7;
    figures.sinks.push_back({"file", "file /tmp/m.jsonl", 5, 1, 2, 300});
    figures.sinks.push_back({"unix", "unix /run/a\"b.sock", 6, 0, 0, 0});
    const Histogram histogram;
    const HttpFigures http;
    const std::string scrape = renderMetrics(figures, histogram, &http, readProcessFigures());
    CHECK(scrape.find("wspushd_link_up{server=\"wss://***@push.example.com/ws\"} 1\n") !=
          std::string::npos);
    CHECK(scrape.find("wspushd_link_connected_since_seconds 1.5\n") != std::string::npos);
    CHECK(scrape.find("wspushd_messages_received_total 7\n") != std::string::npos);
    CHECK(scrape.find("wspushd_sink_delivered_total{sink=\"file:0\",name=\"file /tmp/m.jsonl\"} "
                      "5\n") != std::string::npos);
    CHECK(scrape.find("wspushd_sink_queued_bytes{sink=\"file:0\",name=\"file /tmp/m.jsonl\"} "
                      "300\n") != std::string::npos);
    CHECK(scrape.find("wspushd_sink_delivered_total{sink=\"unix:1\",name=\"unix "
                      "/run/a\\\"b.sock\"} 6\n") != std::string::npos);
    CHECK(scrape.find("process_resident_memory_bytes ") != std::string::npos);
    CHECK(scrape.find("wspushd_metrics_requests_total{code=\"200\"} 0\n") != std::string::npos);
    // Each family's TYPE line comes once.
    std::size_t at = 0;
    int types = 0;
    while ((at = scrape.find("# TYPE wspushd_sink_delivered_total ", at)) != std::string::npos) {
        ++types;
        ++at;
    }
    CHECK(types == 1);

    const std::string textfile = renderMetrics(figures, histogram, nullptr, std::nullopt);
    CHECK(textfile.find("process_") == std::string::npos);
    CHECK(textfile.find("wspushd_metrics_") == std::string::npos);
    CHECK(textfile.find("wspushd_messages_received_total 7\n") != std::string::npos);
}

TEST_CASE("process figures come from /proc")
{
    const auto figures = readProcessFigures();
    REQUIRE(figures);
    CHECK(figures->residentBytes > 0);
    CHECK(figures->virtualBytes >= figures->residentBytes);
    CHECK(figures->openFds >= 3);
    CHECK(figures->maxFds >= figures->openFds);
    const double now = static_cast<double>(std::time(nullptr));
    CHECK(figures->startTimeSeconds > now - 3600);
    CHECK(figures->startTimeSeconds <= now + 1);
    // Constant: read again, the same value.
    CHECK(readProcessFigures()->startTimeSeconds == figures->startTimeSeconds);
    CHECK(figures->cpuSeconds >= 0);
}

TEST_CASE("request reader: GET /metrics, and 404 for anything else")
{
    CHECK(feedAll("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n") == Verdict::Metrics);
    CHECK(feedAll("GET /metrics HTTP/1.0\r\n\r\n") == Verdict::Metrics);
    CHECK(feedAll("GET /metrics?name[]=up HTTP/1.1\r\n\r\n") == Verdict::Metrics);
    CHECK(feedAll("GET /metrics HTTP/1.1\n\n") == Verdict::Metrics);
    CHECK(feedAll("GET / HTTP/1.1\r\n\r\n") == Verdict::NotFound);
    CHECK(feedAll("GET /metrics/ HTTP/1.1\r\n\r\n") == Verdict::NotFound);
    CHECK(feedAll("GET /metricsx HTTP/1.1\r\n\r\n") == Verdict::NotFound);
    CHECK(feedAll("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == Verdict::NotFound);
    CHECK(feedAll("HEAD /metrics HTTP/1.1\r\n\r\n") == Verdict::NotFound);
    CHECK(feedAll("GET http://host/metrics HTTP/1.1\r\n\r\n") == Verdict::NotFound);
}

TEST_CASE("request reader: malformed and oversized heads are bad requests")
{
    CHECK(feedAll("GET /metrics\r\n\r\n") == Verdict::BadRequest);
    CHECK(feedAll("GET /metrics HTTP/2\r\n\r\n") == Verdict::BadRequest);
    CHECK(feedAll("GET  /metrics HTTP/1.1\r\n\r\n") == Verdict::BadRequest);
    CHECK(feedAll("get /metrics HTTP/1.1\r\n\r\n") == Verdict::BadRequest);
    CHECK(feedAll("\r\n\r\n") == Verdict::BadRequest);
    CHECK(feedAll("GET /metrics HTTP/1.1\r\n") == Verdict::NeedMore);

    // A huge request line, all at once or a piece at a time: no more than the bound is held.
    const std::string huge = "GET /" + std::string(100'000, 'a');
    CHECK(feedAll(huge) == Verdict::BadRequest);
    RequestReader reader;
    Verdict verdict = Verdict::NeedMore;
    std::size_t fed = 0;
    while (verdict == Verdict::NeedMore && fed < huge.size()) {
        verdict = reader.feed(std::string_view(huge).substr(fed, 1000));
        fed += 1000;
    }
    CHECK(verdict == Verdict::BadRequest);
    CHECK(fed <= RequestReader::maxHeadBytes + 1000);
    CHECK(reader.feed("\r\n\r\n") == Verdict::BadRequest); // it stays said

    // Exactly at the bound is still read.
    const std::string head = "GET /metrics HTTP/1.1\r\nX: ";
    const std::string full =
        head + std::string(RequestReader::maxHeadBytes - head.size() - 4, 'x') + "\r\n\r\n";
    CHECK(full.size() == RequestReader::maxHeadBytes);
    CHECK(feedAll(full) == Verdict::Metrics);
    CHECK(feedAll(full.substr(0, full.size() - 4) + "x\r\n\r\n") == Verdict::BadRequest);
}

TEST_CASE("request reader: a byte at a time, the blank line split anywhere")
{
    CHECK(feedBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == Verdict::Metrics);
    CHECK(feedBytes("GET /nope HTTP/1.1\r\n\r\n") == Verdict::NotFound);
    CHECK(feedBytes("GET /metrics HTTP/1.1\n\n") == Verdict::Metrics);
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::size_t split = 1; split < request.size(); ++split) {
        RequestReader reader;
        CAPTURE(split);
        CHECK(reader.feed(request.substr(0, split)) == Verdict::NeedMore);
        CHECK(reader.feed(request.substr(split)) == Verdict::Metrics);
    }
}

TEST_CASE("responses: status, content type and length, and a close")
{
    const std::string ok = httpResponse(Verdict::Metrics, "a 1\n");
    CHECK(ok == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
    const std::string missing = httpResponse(Verdict::NotFound, "ignored");
    CHECK(missing.starts_with("HTTP/1.1 404 Not Found\r\n"));
    CHECK(missing.find("ignored") == std::string::npos);
    CHECK(httpResponse(Verdict::BadRequest, {}).starts_with("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_CASE("textfile: replaced whole, the temporary file gone; errors say the path")
{
    std::string pattern = std::filesystem::temp_directory_path() / "wspushd-metrics-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    const std::filesystem::path dir = pattern;
    const std::string path = dir / "wspushd.prom";
    replaceFile(path, "a 1\n");
    CHECK(readFile(path) == "a 1\n");
    struct stat before
    {
    };
    REQUIRE(stat(path.c_str(), &before) == 0);
    replaceFile(path, "a 2\nb 3\n");
    CHECK(readFile(path) == "a 2\nb 3\n");
    struct stat after
    {
    };
    REQUIRE(stat(path.c_str(), &after) == 0);
    CHECK(after.st_ino != before.st_ino); // a new file renamed over the old one
    CHECK(!std::filesystem::exists(path + ".tmp"));
    CHECK_THROWS_WITH_AS(replaceFile((dir / "missing" / "x.prom").string(), "a 1\n"),
                         doctest::Contains("missing/x.prom.tmp"), std::system_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("listen addresses: parsed, and shown as written")
{
    std::string error;
    const auto v4 = config::parseListenAddress("127.0.0.1:9464", error);
    REQUIRE(v4);
    CHECK(v4->kind == config::ListenAddress::Kind::Tcp);
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == 9464);
    const auto v6 = config::parseListenAddress("[::1]:0", error);
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 0);
    const auto any = config::parseListenAddress(":9464", error);
    REQUIRE(any);
    CHECK(any->host.empty());
    const auto path = config::parseListenAddress("unix:/run/m.sock", error);
    REQUIRE(path);
    CHECK(path->kind == config::ListenAddress::Kind::Unix);
    CHECK(path->path == "/run/m.sock");
    const auto abstract = config::parseListenAddress("unix:@wspushd-metrics", error);
    REQUIRE(abstract);
    CHECK(abstract->path == "@wspushd-metrics");
    for (const char* text : {"127.0.0.1:9464", "[::1]:0", ":9464", "unix:/run/m.sock"})
        CHECK(config::formatListenAddress(*config::parseListenAddress(text, error)) == text);
    for (const char* bad :
         {"", "9464", "host:1", "1.2.3:4", "[1.2.3.4]:5", "[::1]", "::1:80",
          "1.2.3.4:", "1.2.3.4:x", "1.2.3.4:65536", "1.2.3.4:-1", "unix:", "unix:@", "unix:rel"}) {
        CAPTURE(bad);
        CHECK_FALSE(config::parseListenAddress(bad, error));
        CHECK(!error.empty());
    }
}
