// Connection events delivered to options::on_event.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nats {

enum class event_kind {
  connected,           ///< first successful connect
  disconnected,        ///< the link was lost (ec says why); reconnecting follows if enabled
  reconnected,         ///< a new link after a disconnect; subscriptions were restored
  closed,              ///< the connection is closed for good (ec: why, or empty after close())
  servers_discovered,  ///< INFO announced servers we did not know (servers lists them)
  lame_duck,           ///< the current server is shutting down; we will move away
  error,               ///< an asynchronous error that did not close the link (-ERR, permissions)
  slow_consumer,       ///< a subscription started dropping messages (once per episode)
  connect_failed,      ///< one attempt to reach a server failed (ec says why); more attempts may follow
};

const char* to_string(event_kind k) noexcept;

struct event {
  event_kind kind{};
  boost::system::error_code ec;
  std::string server;               ///< server URL (no credentials)
  std::string text;                 ///< server text for -ERR, extra detail otherwise
  std::uint64_t sid = 0;            ///< slow_consumer: the subscription
  std::string subject;              ///< slow_consumer: its subject
  std::vector<std::string> servers; ///< servers_discovered
};

}  // namespace nats
