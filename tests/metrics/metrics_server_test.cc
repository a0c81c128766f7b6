#include "backfill/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A socket listening on 127.0.0.1 at a port the kernel picks; closed on
// destruction.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
    }
    port_ = ntohs(sa.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// GET http://127.0.0.1:port/path; the whole response, or "" when the
// connection is refused.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      "GET " + path +
      " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
    response.append(buf, n);
  close(fd);
  return response;
}

TEST(MetricsServerTest, ServesTheRunsMetricsUntilDestroyed) {
  RunMetrics metrics("orders_v2");
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", &metrics);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*server)->url(),
            "http://127.0.0.1:" + std::to_string(port) + "/metrics");

  const std::string response = HttpGet(port, "/metrics");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("backfill_throttled{job=\"orders_v2\"} 0"));

  server->reset();
  EXPECT_EQ(HttpGet(port, "/metrics"), "")
      << "still serving after the server was destroyed";
}

TEST(MetricsServerTest, PortInUseIsAClearError) {
  Listener taken;
  RunMetrics metrics("users");
  const std::string listen = "127.0.0.1:" + std::to_string(taken.port());
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start(listen, &metrics);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(server.status().message()),
            "`listen` " + listen + ": cannot listen: address already in use");
}

TEST(MetricsServerTest, MalformedAddressesAreInvalidArguments) {
  RunMetrics metrics("users");
  for (const char* listen :
       {"9187", "localhost:9187", "127.0.0.1:", "127.0.0.1:http",
        "127.0.0.1:70000", "[::1]9187", "300.1.1.1:9187"}) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> server =
        MetricsServer::Start(listen, &metrics);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << listen;
    EXPECT_THAT(std::string(server.status().message()),
                StartsWith(std::string("`listen` ") + listen))
        << listen;
  }
}

}  // namespace
}  // namespace backfill
