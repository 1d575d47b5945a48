{
  # --simd=0 (node-gyp rebuild --simd=0) builds the portable scalar kernels on x86-64 too, to check that
  # they compute the same bits as the AVX2 ones (cpu/simd.h); arm64 always builds them.
  "variables": { "simd%": 1 },
  "targets": [
    {
      "target_name": "sft_native",
      # Every kernel and binding file is compiled; adding an op never means editing this list.
      "sources": [
        "addon.cc",
        "<!@(ls -1 cpu/*.cc model/*.cc cuda/*.cc binding/*.cc 2>/dev/null)"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "."],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off"],
      # dlopen of the CUDA driver (cuda/driver.cc); part of libc since glibc 2.34
      "libraries": ["-ldl"],
      "conditions": [
        ["target_arch=='x64' and simd==1", { "cflags_cc": ["-mavx2", "-mfma", "-mf16c"] }]
      ]
    }
  ]
}
