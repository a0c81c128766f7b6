#include "backfill/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace backfill {
namespace {

struct ListenAddress {
  std::string host;  // without brackets
  bool ipv6 = false;
  int port = 0;
};

absl::StatusOr<ListenAddress> ParseListen(absl::string_view listen) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`listen` ", listen, ": ", why,
        "; expected IP:PORT such as 127.0.0.1:9187 or [::1]:9187"));
  };
  ListenAddress a;
  absl::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos || close + 1 >= listen.size() ||
        listen[close + 1] != ':') {
      return bad("no port");
    }
    a.host = std::string(listen.substr(1, close - 1));
    a.ipv6 = true;
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    a.host = std::string(listen.substr(0, colon));
    port = listen.substr(colon + 1);
  }
  if (port.empty() ||
      port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &a.port) || a.port > 65535) {
    return bad("the port is not a number in 0-65535");
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.host.c_str(), buf) != 1) {
    return bad(absl::StrCat("\"", a.host, "\" is not an IP address"));
  }
  return a;
}

// Why `a` cannot be bound, from the kernel: "address already in use",
// "cannot assign requested address", ... Binds like civetweb does (with
// SO_REUSEADDR, so sockets in TIME_WAIT do not count) and closes at once.
std::string BindError(const ListenAddress& a) {
  const int family = a.ipv6 ? AF_INET6 : AF_INET;
  const int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (a.ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(a.port));
    inet_pton(AF_INET6, a.host.c_str(), &sa.sin6_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(a.port));
    inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  const int err = errno;
  close(fd);
  if (rc == 0) return "the HTTP server did not start";
  std::string message = std::strerror(err);
  if (!message.empty())
    message[0] = static_cast<char>(std::tolower(message[0]));
  return message;
}

}  // namespace

struct MetricsServer::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view listen, RunMetrics* metrics) {
  absl::StatusOr<ListenAddress> address = ParseListen(listen);
  if (!address.ok()) return address.status();
  const std::string bind =
      address->ipv6 ? absl::StrCat("[", address->host, "]:", address->port)
                    : absl::StrCat(address->host, ":", address->port);
  auto impl = std::make_unique<Impl>();
  try {
    // One thread is plenty for a scraper or two; a second lets a slow scrape
    // not hold up the next.
    impl->exposer = std::make_unique<prometheus::Exposer>(bind, 2);
  } catch (const std::exception&) {
    return absl::FailedPreconditionError(absl::StrCat(
        "`listen` ", listen, ": cannot listen: ", BindError(*address)));
  }
  impl->exposer->RegisterCollectable(metrics->collectable());
  int port = address->port;
  const std::vector<int> ports = impl->exposer->GetListeningPorts();
  if (!ports.empty()) port = ports.front();
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(impl), address->host, port));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl, std::string host,
                             int port)
    : impl_(std::move(impl)), host_(std::move(host)), port_(port) {}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::url() const {
  const bool ipv6 = host_.find(':') != std::string::npos;
  return absl::StrCat("http://", ipv6 ? "[" : "", host_, ipv6 ? "]" : "", ":",
                      port_, "/metrics");
}

}  // namespace backfill
