{
  "targets": [
    {
      "target_name": "kubelived_native",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/arp_na.cc",
        "src/errors.cc",
        "src/inet.cc",
        "src/ipvs.cc",
        "src/ipvs_js.cc",
        "src/ipvs_msg.cc",
        "src/loop.cc",
        "src/netlink.cc",
        "src/rtnl.cc",
        "src/rtnl_addr.cc",
        "src/rtnl_link.cc",
        "src/signal_watch.cc",
        "src/timer.cc",
        "src/vrrp_socket.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=10",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    }
  ]
}
