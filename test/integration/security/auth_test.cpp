// Authentication against a real nats-server: token, user/password (options and URL), per-user
// permissions, nkey users (keys generated here), a custom auth callback, and .creds files in
// operator (JWT) mode with operator/account/user JWTs issued by this test. Wrong secrets must give
// authorization_violation without leaking the secret into errors.
#define BOOST_TEST_MODULE security_auth
#include "security_util.hpp"
#include "operator_setup.hpp"

#include <nats/auth.hpp>

#include <chrono>

using namespace nats;
using namespace nats::test;

namespace {

server_options with_config(std::string config) {
  server_options so;
  so.config = std::move(config);
  return so;
}

options client_for(const nats_server& s) {
  options o;
  o.servers = {s.url()};
  o.name = "auth-test";
  o.connect_timeout = 5s;
  return o;
}

std::string url_with(const nats_server& s, const std::string& userinfo) {
  return "nats://" + userinfo + "@127.0.0.1:" + std::to_string(s.port());
}

// The error a wrong secret must produce, and proof that the secret is not in its texts.
void expect_auth_violation(const connect_result& r, const std::string& secret) {
  BOOST_TEST(r.ec == error::authorization_violation);
  BOOST_TEST(!contains(r.ec.message(), secret));
  BOOST_TEST(!contains(r.text, secret));
}

}  // namespace

BOOST_AUTO_TEST_CASE(token) {
  nats_server server(with_config("authorization {\n  token: \"t0ken-s3cret\"\n}\n"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = client_for(server);
    o.auth.token = "t0ken-s3cret";
    {
      connection c(ioc.get_executor(), o);
      co_await connect_or_throw(c);
      co_await round_trip(c, "auth.token");
    }
    auto by_url = client_for(server);
    by_url.servers = {url_with(server, "t0ken-s3cret")};
    {
      connection c(ioc.get_executor(), by_url);
      co_await connect_or_throw(c);
      co_await round_trip(c, "auth.token_url");
    }
    o.auth.token = "wrong-t0ken";
    expect_auth_violation(co_await try_connect(ioc, o), "wrong-t0ken");
    expect_auth_violation(co_await try_connect(ioc, client_for(server)), "t0ken-s3cret");
  });
}

BOOST_AUTO_TEST_CASE(user_and_password) {
  nats_server server(with_config("authorization {\n  users: [\n    {user: alice, password: \"p@ss w0rd\"}\n  ]\n}\n"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = client_for(server);
    o.auth.user = "alice";
    o.auth.password = "p@ss w0rd";
    {
      connection c(ioc.get_executor(), o);
      co_await connect_or_throw(c);
      co_await round_trip(c, "auth.user");
    }
    auto by_url = client_for(server);
    by_url.servers = {url_with(server, "alice:p%40ss%20w0rd")};  // percent-encoded in the URL
    {
      connection c(ioc.get_executor(), by_url);
      co_await connect_or_throw(c);
      BOOST_TEST(!contains(c.connected_url(), "w0rd"));  // credentials never in the printed URL
      co_await round_trip(c, "auth.user_url");
    }
    o.auth.password = "not-the-pw";
    expect_auth_violation(co_await try_connect(ioc, o), "not-the-pw");
    o.auth.user = "mallory";
    o.auth.password = "p@ss w0rd";
    expect_auth_violation(co_await try_connect(ioc, o), "p@ss w0rd");
  });
}

BOOST_AUTO_TEST_CASE(permissions_violations_are_reported_and_the_link_stays_up) {
  nats_server server(with_config(R"(authorization {
  users: [
    {user: bob, password: bobpw, permissions: {
      publish: { allow: ["ok.>", "_INBOX.>"] }
      subscribe: { allow: ["ok.>", "_INBOX.>"] }
    }}
  ]
}
)"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = client_for(server);
    o.auth.user = "bob";
    o.auth.password = "bobpw";
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    co_await round_trip(c, "ok.perm");

    BOOST_REQUIRE(!c.publish("denied.pub", "x"));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(co_await wait_until([&] { return log.count(event_kind::error) >= 1; }, 5s));
    const event* e = log.last(event_kind::error);
    BOOST_REQUIRE(e);
    BOOST_TEST(e->ec == error::permissions_violation);
    BOOST_TEST_MESSAGE("publish denied: " << e->text);
    BOOST_TEST(contains(e->text, "denied.pub"));

    error_code ec;
    auto sub = c.subscribe("denied.sub", ec);
    BOOST_REQUIRE(!ec);  // the server refuses asynchronously
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(co_await wait_until([&] { return log.count(event_kind::error) >= 2; }, 5s));
    BOOST_TEST(contains(log.last(event_kind::error)->text, "denied.sub"));

    // Still connected, still working.
    BOOST_TEST(c.is_connected());
    co_await round_trip(c, "ok.after");
  });
}

BOOST_AUTO_TEST_CASE(nkey_user) {
  auto user = auth::key_pair::generate(auth::key_kind::user);
  nats_server server(with_config("authorization {\n  users: [\n    {nkey: " + user.public_key() + "}\n  ]\n}\n"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = client_for(server);
    o.auth.nkey_seed = user.seed();
    {
      connection c(ioc.get_executor(), o);
      co_await connect_or_throw(c);
      BOOST_TEST(!c.server_info().nonce.empty());
      co_await round_trip(c, "auth.nkey");
    }
    // Another key: signature is valid but the public key is unknown.
    auto stranger = auth::key_pair::generate(auth::key_kind::user);
    o.auth.nkey_seed = stranger.seed();
    expect_auth_violation(co_await try_connect(ioc, o), stranger.seed());
    // A seed that does not decode never reaches the server.
    o.auth.nkey_seed = "SUNOTAVALIDSEED";
    auto r = co_await try_connect(ioc, o);
    BOOST_TEST(r.ec == error::bad_seed);
    BOOST_TEST(!contains(r.ec.message(), "SUNOTAVALIDSEED"));
  });
}

BOOST_AUTO_TEST_CASE(nkey_signature_from_an_auth_callback) {
  auto user = auth::key_pair::generate(auth::key_kind::user);
  nats_server server(with_config("authorization {\n  users: [\n    {nkey: " + user.public_key() + "}\n  ]\n}\n"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = client_for(server);
    int calls = 0;
    o.auth.callback = [&](const std::string& nonce, protocol::connect_info& ci) -> error_code {
      ++calls;
      ci.nkey = user.public_key();
      ci.sig = auth::base64url_encode(user.sign(nonce));
      return {};
    };
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    BOOST_TEST(calls == 1);
    co_await round_trip(c, "auth.callback");
  });
}

BOOST_AUTO_TEST_CASE(creds_file_in_operator_mode) {
  operator_setup ops;
  const std::string dir = make_temp_dir("nats-creds");
  nats_server server(with_config(ops.server_config(dir)));
  auto user = auth::key_pair::generate(auth::key_kind::user);
  const std::string creds_path = dir + "/user.creds";
  write_file(creds_path, operator_setup::creds(ops.user_jwt(user), user.seed()));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = client_for(server);
    o.auth.creds_file = creds_path;
    {
      connection c(ioc.get_executor(), o);
      co_await connect_or_throw(c);
      co_await round_trip(c, "auth.creds_file");
    }
    // The same from memory.
    auto m = client_for(server);
    m.auth.creds = operator_setup::creds(ops.user_jwt(user), user.seed());
    {
      connection c(ioc.get_executor(), m);
      co_await connect_or_throw(c);
      co_await round_trip(c, "auth.creds_mem");
    }
    // A valid JWT with someone else's seed: the signature does not match the JWT's subject.
    auto other = auth::key_pair::generate(auth::key_kind::user);
    m.auth.creds = operator_setup::creds(ops.user_jwt(user), other.seed());
    expect_auth_violation(co_await try_connect(ioc, m), other.seed());
    // A user JWT signed by an account the server does not know.
    operator_setup foreign;
    m.auth.creds = operator_setup::creds(foreign.user_jwt(user), user.seed());
    expect_auth_violation(co_await try_connect(ioc, m), user.seed());
    // Unreadable and malformed creds.
    o.auth.creds_file = dir + "/missing.creds";
    auto r = co_await try_connect(ioc, o);
    BOOST_TEST(r.ec == boost::system::errc::no_such_file_or_directory);
    m.auth.creds = "not a creds file";
    r = co_await try_connect(ioc, m);
    BOOST_TEST(r.ec == error::bad_credentials);
  });
  remove_tree(dir);
}
