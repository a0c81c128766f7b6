#ifndef BACKFILL_TESTS_INTEGRATION_FREEZING_PROXY_H_
#define BACKFILL_TESTS_INTEGRATION_FREEZING_PROXY_H_

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace backfill::testing {

// A TCP proxy from 127.0.0.1:port() to 127.0.0.1:target_port that can go
// silent. Freeze() makes every connection open so far stop forwarding, both
// ways, without closing it: to the client, the server behind it has vanished
// behind a black-holed network. Connections accepted later forward normally,
// as after the network came back. Throws std::runtime_error if it cannot
// listen. The destructor closes everything.
class FreezingProxy {
 public:
  explicit FreezingProxy(int target_port);
  ~FreezingProxy();

  FreezingProxy(const FreezingProxy&) = delete;
  FreezingProxy& operator=(const FreezingProxy&) = delete;

  int port() const { return port_; }
  void Freeze() { frozen_below_ = next_id_.load(); }

 private:
  void Accept();
  void Pump(int client, int server, int id);

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_id_{0};
  std::atomic<int> frozen_below_{0};  // connections with id < this are silent
  std::mutex mu_;
  std::vector<std::thread> threads_;  // guarded by mu_ (the pumps)
  std::thread acceptor_;
};

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_FREEZING_PROXY_H_
