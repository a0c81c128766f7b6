#include "tests/integration/freezing_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace backfill::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Moves what `from` has to `to`; false when either end is done.
bool Forward(int from, int to) {
  char buf[16384];
  const ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    const ssize_t w = write(to, buf + done, static_cast<size_t>(n - done));
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

FreezingProxy::FreezingProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("FreezingProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

FreezingProxy::~FreezingProxy() {
  stop_ = true;
  acceptor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (std::thread& t : threads_) t.join();
  close(listen_fd_);
}

void FreezingProxy::Accept() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(target_port_);
    if (server < 0 ||
        connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(client);
      if (server >= 0) close(server);
      continue;
    }
    const int id = next_id_++;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(
        [this, client, server, id] { Pump(client, server, id); });
  }
}

void FreezingProxy::Pump(int client, int server, int id) {
  while (!stop_) {
    if (id < frozen_below_) {
      // Silent: read nothing, send nothing, close nothing.
      usleep(50 * 1000);
      continue;
    }
    pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (poll(p, 2, 50) <= 0) continue;
    if ((p[0].revents && !Forward(client, server)) ||
        (p[1].revents && !Forward(server, client))) {
      break;
    }
  }
  close(client);
  close(server);
}

}  // namespace backfill::testing
