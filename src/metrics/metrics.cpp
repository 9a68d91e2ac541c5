// SPDX-License-Identifier: MIT
#include "metrics/metrics.hpp"

#include "config/listen_address.hpp"
#include "config/units.hpp"
#include "metrics/process_figures.hpp"
#include "metrics/textfile.hpp"
#include "system/log.hpp"

namespace wspush::metrics {

Metrics::Metrics(const config::MetricsConfig& config, event::EventLoop& loop, Source source)
    : loop_(loop), source_(std::move(source)),
      textfileTimer_(loop.context(), [this] { rewriteTextfile(); })
{
    reconfigure(config);
}

std::unique_ptr<HttpListener> Metrics::listen(const std::string& address)
{
    if (address.empty())
        return nullptr;
    std::string error;
    const auto parsed = config::parseListenAddress(address, error);
    if (!parsed)
        throw std::runtime_error("metrics.listen: " + error); // the loader checked it
    return std::make_unique<HttpListener>(loop_, *parsed, http_, [this] { return render(true); });
}

void Metrics::reconfigure(const config::MetricsConfig& config)
{
    // Checked first, so that a failure leaves everything as it was.
    if (!config.textfile.empty() && config.textfile != config_.textfile)
        replaceFile(config.textfile, render(false));
    if (config.listen != config_.listen) {
        // The old socket goes first: the new address may share its port.
        listener_.reset();
        try {
            listener_ = listen(config.listen);
        } catch (...) {
            try {
                listener_ = listen(config_.listen);
            } catch (const std::exception& error) {
                log::error(std::string("metrics: the old address is lost too: ") + error.what());
            }
            throw;
        }
    }
    config_ = config;
    textfileTimer_.cancel();
    textfileFailing_ = false;
    if (!config_.textfile.empty())
        textfileTimer_.schedule(config_.interval);
}

std::string Metrics::render(bool forScrape) const
{
    const std::optional<ProcessFigures> process =
        forScrape ? readProcessFigures() : std::optional<ProcessFigures>();
    return renderMetrics(source_(), roundTrip_, forScrape ? &http_ : nullptr, process);
}

void Metrics::rewriteTextfile() noexcept
{
    textfileTimer_.schedule(config_.interval);
    try {
        replaceFile(config_.textfile, render(false));
        if (textfileFailing_)
            log::notice("metrics: " + config_.textfile + " is written again");
        textfileFailing_ = false;
    } catch (const std::exception& error) {
        if (!textfileFailing_)
            log::warning(std::string("metrics: ") + error.what() + "; retrying every " +
                         config::formatSeconds(config_.interval));
        textfileFailing_ = true;
    }
}

} // namespace wspush::metrics
