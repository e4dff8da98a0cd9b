// A 3-server JetStream cluster on free ports (the settings of nats/cluster/n*.conf) for the cluster
// layer's failover tests, and the node settings that go with it (R3 stream and bucket).
#pragma once

#include "cluster_util.hpp"

#include <memory>
#include <string>
#include <vector>

namespace nats::cluster::test {

struct three_servers {
  std::vector<std::unique_ptr<nats::test::nats_server>> nodes;
  std::vector<std::string> urls;
  three_servers() {
    int client[3], route[3];
    for (int i = 0; i < 3; ++i) {
      client[i] = nats::test::free_port();
      route[i] = nats::test::free_port();
    }
    for (int i = 0; i < 3; ++i) {
      nats::test::server_options o;
      o.jetstream = true;
      o.port = client[i];
      std::string routes;
      for (int j = 0; j < 3; ++j)
        if (j != i) routes += "    nats-route://127.0.0.1:" + std::to_string(route[j]) + "\n";
      o.config = "server_name: nc-n" + std::to_string(i + 1) + "\ncluster {\n  name: nc-cluster\n  listen: 127.0.0.1:" +
                 std::to_string(route[i]) + "\n  routes: [\n" + routes + "  ]\n}\n";
      nodes.push_back(std::make_unique<nats::test::nats_server>(o));
      urls.push_back(nodes.back()->url());
    }
  }
};

inline config r3_config(const std::vector<std::string>& urls, const char* id) {
  auto c = make_config(urls, id);
  c.stream.replicas = 3;
  c.bucket_replicas = 3;
  c.start_timeout = 60s;  // the JetStream meta leader is elected first
  c.connection.reconnect.wait = 200ms;
  return c;
}

}  // namespace nats::cluster::test
