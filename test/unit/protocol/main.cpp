// Test module for the sans-io protocol layer (parser, serializer, headers, subjects, JSON, URLs).
#define BOOST_TEST_MODULE protocol
#include <boost/test/unit_test.hpp>
