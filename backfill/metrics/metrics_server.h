#ifndef BACKFILL_METRICS_METRICS_SERVER_H_
#define BACKFILL_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/metrics/run_metrics.h"

namespace backfill {

// An HTTP endpoint serving a run's metrics at /metrics in the Prometheus
// text format (prometheus-cpp's Exposer, on its own threads), from Start
// until it is destroyed. The CLI keeps one for the life of `backfill run
// --metrics-listen ADDR`; an embedding job runner may do the same, or serve
// RunMetrics::Render() from its own HTTP server instead.
//
// Thread-safety: Start and the destructor from one thread; the accessors from
// any.
class MetricsServer {
 public:
  // Binds `listen` and starts serving `metrics` (not owned; must outlive the
  // server). `listen` is IP:PORT: "127.0.0.1:9187", "[::1]:9187", or
  // "0.0.0.0:9187" for every interface (it binds exactly where told). Port 0
  // picks a free port; port() says which. Fails, having bound nothing, with:
  //   kInvalidArgument     `listen` is not IP:PORT (host names are refused);
  //   kFailedPrecondition  the address cannot be bound, e.g. the port is
  //                        already in use ("address already in use").
  // Messages are one line and start with "--metrics-listen <listen>: ".
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view listen, RunMetrics* metrics);

  // Stops serving: the port is closed when this returns. Takes up to about
  // 2 s (civetweb, under prometheus-cpp, polls its sockets in 2 s slices).
  ~MetricsServer();

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound (the chosen one when asked for port 0).
  int port() const { return port_; }
  // "http://127.0.0.1:9187/metrics", with the bound port.
  std::string url() const;

 private:
  struct Impl;
  MetricsServer(std::unique_ptr<Impl> impl, std::string host, int port);

  std::unique_ptr<Impl> impl_;
  const std::string host_;  // as given; IPv6 without brackets
  const int port_;
};

}  // namespace backfill

#endif  // BACKFILL_METRICS_METRICS_SERVER_H_
