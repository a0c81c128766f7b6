#ifndef BACKFILL_TESTS_INTEGRATION_SCRAPE_H_
#define BACKFILL_TESTS_INTEGRATION_SCRAPE_H_

#include <map>
#include <optional>
#include <string>

#include "tests/integration/cli_runner.h"

namespace backfill::testing {

// GET http://127.0.0.1:port/metrics: the body, or nullopt when nothing
// listens. A response that is not 200 fails the test and returns "".
std::optional<std::string> Scrape(int port);

// Sample lines "name{labels} value" -> value.
std::map<std::string, double> Samples(const std::string& text);

// The port of a run's --metrics-listen 127.0.0.1:0, from its
// {"event":"metrics","url":...} (JSON) or "serving metrics at URL" (text)
// line, waiting up to 60s for it; 0 (and a test failure) if it never comes.
int WaitForMetricsPort(CliProcess& process);

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_SCRAPE_H_
