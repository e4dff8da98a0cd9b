// Shared by the examples: runs one coroutine on a fresh io_context and reports its error, if any.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <iostream>

inline int run_example(boost::asio::awaitable<void> (*body)(int, char**), int argc, char** argv) {
  boost::asio::io_context ioc;
  int status = 0;
  boost::asio::co_spawn(ioc, body(argc, argv), [&](std::exception_ptr e) {
    if (!e) return;
    status = 1;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
      std::cerr << "error: " << ex.code().message() << "\n";  // the message, without source locations
    } catch (const std::exception& ex) {
      std::cerr << "error: " << ex.what() << "\n";
    }
  });
  ioc.run();
  return status;
}
