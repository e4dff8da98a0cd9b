// Everything of nats::js.
#pragma once

#include <nats/js/ack.hpp>
#include <nats/js/consumer.hpp>
#include <nats/js/context.hpp>
#include <nats/js/error.hpp>
#include <nats/js/metadata.hpp>
#include <nats/js/pub_ack.hpp>
#include <nats/js/publisher.hpp>
#include <nats/js/pull.hpp>
#include <nats/js/stored_msg.hpp>
#include <nats/js/stream.hpp>
