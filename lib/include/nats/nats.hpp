// Convenience header: the whole core client.
#pragma once

#include <nats/connection.hpp>
#include <nats/error.hpp>
#include <nats/events.hpp>
#include <nats/headers.hpp>
#include <nats/message.hpp>
#include <nats/options.hpp>
#include <nats/server_url.hpp>
#include <nats/subscription.hpp>
