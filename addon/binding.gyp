{
  "variables": {
    "nats_src%": "<!(node -p \"process.env.NATS_SRC_DIR || require('path').resolve('..')\")",
    "simdjson_cpp%": "<!(node -p \"require('fs').existsSync('deps/simdjson.cpp') ? 'deps/simdjson.cpp' : ''\")"
  },
  "targets": [
    {
      "target_name": "nats_cluster",
      "sources": [
        "src/addon.cpp",
        "src/cluster_wrap.cpp",
        "src/convert.cpp",
        "src/event_queue.cpp",
        "src/kv_wrap.cpp",
        "src/leader_wrap.cpp",
        "src/runtime.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(nats_src)/lib/include",
        "<(nats_src)/jetstream/include",
        "<(nats_src)/kv/include",
        "<(nats_src)/cluster/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "BOOST_ASIO_SEPARATE_COMPILATION",
        "BOOST_BEAST_SEPARATE_COMPILATION",
        "BOOST_ASIO_NO_DEPRECATED"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-fvisibility=hidden", "-Wall", "-Wextra",
                    "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-mismatched-new-delete"],
      "libraries": [
        "-Wl,--start-group",
        "<!@(node scripts/native-libs.js)",
        "-Wl,--end-group",
        "-l:libssl.a",
        "-l:libcrypto.a",
        "-lpthread",
        "-ldl"
      ],
      "conditions": [
        ["simdjson_cpp!=''", {
          "sources": ["<(simdjson_cpp)"]
        }, {
          "libraries": ["-lsimdjson"]
        }]
      ],
      "ldflags": [
        "-static-libstdc++",
        "-static-libgcc",
        "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}
