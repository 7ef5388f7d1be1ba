{
  "targets": [
    {
      "target_name": "divco_native",
      "sources": [
        "src/addon.cc",
        "src/boxes.cc",
        "src/tensor_meta.cc",
        "src/tensor_data.cc",
        "src/dispatch.cc",
        "src/autograd.cc",
        "src/runtime.cc",
        "src/dist.cc",
        "src/memory.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node find-libtorch.mjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "<!@(node find-libtorch.mjs cflags)"],
      "libraries": ["<!@(node find-libtorch.mjs libs)"]
    }
  ]
}
