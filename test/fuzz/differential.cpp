#include "differential.hpp"

#include "op_recorder.hpp"

#include <nats/headers.hpp>
#include <nats/protocol/server_info.hpp>
#include <nats/protocol/subject.hpp>
#include <nats/server_url.hpp>

#include <sstream>

namespace nats::fuzz {
namespace {

using nats::test::run_result;

// FNV-1a: chunk sizes derived from the input, so a failing input reproduces by itself.
std::uint64_t hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string compare(const char* how, const run_result& whole, const run_result& other) {
  std::ostringstream os;
  if (!other.sticky_error) os << how << ": error was not sticky\n";
  if (!other.bounded) os << how << ": parser buffered more than one operation needs\n";
  if (!(whole == other)) {
    os << how << " differs from whole feed\n  whole: " << nats::test::describe(whole) << "\n  " << how << ": "
       << nats::test::describe(other) << "\n";
  }
  return os.str();
}

std::string check_parser(std::string_view data, protocol::parser_limits limits) {
  const auto whole = nats::test::run_whole(data, limits);
  std::string problems = compare("whole", whole, whole);
  problems += compare("byte by byte", whole, nats::test::run_bytewise(data, limits));

  const auto h = hash(data);
  if (!data.empty()) problems += compare("split", whole, nats::test::run_split(data, 1 + h % data.size(), limits));
  nats::test::rng rnd(h);
  const std::size_t max_chunk = 1 + (h >> 32) % 64;
  problems +=
      compare("random chunks", whole, nats::test::run_chunked(data, limits, [&] { return 1 + rnd.below(max_chunk); }));
  if (!problems.empty()) return problems;

  // Decoders downstream of the parser, on what it produced.
  for (const auto& op : whole.ops) {
    if (op.kind == protocol::op_kind::hmsg) {
      boost::system::error_code ec;
      auto hdr = headers::parse(op.headers, ec);
      if (!ec) {
        std::string wire;
        hdr.serialize(wire);
        if (wire.size() != hdr.serialized_size()) return "headers: serialized_size() != serialize() size\n";
        auto again = headers::parse(wire, ec);
        if (ec || !(again == hdr)) return "headers: parse(serialize(parse(x))) != parse(x) for: " + op.headers + "\n";
      } else if (!hdr.empty()) {
        return "headers: failed parse returned a non-empty object\n";
      }
    }
    if (op.kind == protocol::op_kind::info) {
      boost::system::error_code ec;
      (void)protocol::parse_server_info(op.text, ec);
    }
    if (op.kind == protocol::op_kind::msg || op.kind == protocol::op_kind::hmsg) {
      if (!protocol::validate_publish_subject(op.subject)) {
        if (!protocol::subject_matches(op.subject, op.subject)) return "subject does not match itself: " + op.subject;
        if (!protocol::subject_matches(">", op.subject)) return "'>' does not match: " + op.subject;
        if (protocol::validate_subscribe_subject(op.subject)) return "publish subject not subscribable: " + op.subject;
      }
    }
  }
  return {};
}

std::string check_decoders(std::string_view data) {
  boost::system::error_code ec;

  auto hdr = headers::parse(data, ec);
  if (!ec) {
    std::string wire;
    hdr.serialize(wire);
    auto again = headers::parse(wire, ec);
    if (ec || !(again == hdr)) return "headers: round trip failed\n";
  }

  (void)protocol::parse_server_info(data, ec);

  auto url = server_url::parse(data, ec);
  if (!ec) {
    const auto printed = url.to_string();
    auto again = server_url::parse(printed, ec);
    if (ec) return "server_url: to_string() output does not parse: " + printed + "\n";
    if (again.scheme != url.scheme || again.host != url.host || again.port != url.port) {
      return "server_url: round trip changed the server: " + printed + "\n";
    }
    if (url.is_websocket() && again.path != url.path) return "server_url: round trip changed the path\n";
  }

  const bool pub_ok = !protocol::validate_publish_subject(data);
  const bool sub_ok = !protocol::validate_subscribe_subject(data);
  if (pub_ok && !sub_ok) return "subject valid to publish but not to subscribe\n";
  if (pub_ok && !protocol::subject_matches(data, data)) return "subject does not match itself\n";
  (void)protocol::validate_queue_group(data);
  // Split the input into a pattern and a subject and just run the matcher (must not crash or hang).
  const auto mid = data.size() / 2;
  (void)protocol::subject_matches(data.substr(0, mid), data.substr(mid));
  return {};
}

}  // namespace

std::string check_input(std::string_view data) {
  // Default limits, and tiny ones so that the limit paths are reached by small inputs too.
  auto problems = check_parser(data, {});
  if (problems.empty()) problems = check_parser(data, {32, 64});
  if (problems.empty()) problems = check_decoders(data);
  return problems;
}

}  // namespace nats::fuzz
