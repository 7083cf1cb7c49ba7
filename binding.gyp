{
  "variables": {
    # The NNMF kernel, compiled once per instruction set (src/native/kernel.h).
    "nnmf_kernel_sources": ["src/native/kernel_network.cc", "src/native/kernel_train.cc", "src/native/kernel_score.cc", "src/native/kernel_foldin.cc", "src/native/kernel_ridge.cc"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-Wno-psabi"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    # I-AutoRec kernel, portable variant (src/native/autorec.cc).
    {
      "target_name": "autorec_kernel_generic",
      "type": "static_library",
      "sources": ["src/native/autorec.cc"],
      "defines": ["KERNEL_NS=k_generic"],
      "cflags_cc": ["-fPIC"]
    },
    {
      "target_name": "nnmf_kernel_generic",
      "type": "static_library",
      "sources": ["<@(nnmf_kernel_sources)"],
      "defines": ["KERNEL_NS=k_generic"],
      "cflags_cc": ["-fPIC"]
    },
    {
      "target_name": "nnmf_native",
      "sources": ["src/native/addon.cc", "src/native/mf.cc"],
      "cflags_cc": ["-fno-math-errno"],
      "dependencies": ["nnmf_kernel_generic"],
      "conditions": [
        # I-AutoRec kernel variants, linked like the NNMF kernel's.
        ["target_arch=='x64'",
         {"dependencies": ["autorec_kernel_avx512", "autorec_kernel_avx2", "autorec_kernel_generic"]},
         {"dependencies": ["autorec_kernel_generic"]}],
        ["target_arch=='x64'", {
          "dependencies": ["nnmf_kernel_avx512", "nnmf_kernel_avx2"],
          "defines": ["NNMF_X86_VARIANTS"]
        }]
      ]
    }
  ],
  "conditions": [
    # I-AutoRec kernel (src/native/autorec.cc): the same three variants as the NNMF kernel.
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "autorec_kernel_avx512",
          "type": "static_library",
          "sources": ["src/native/autorec.cc"],
          "defines": ["KERNEL_NS=k_avx512"],
          "cflags_cc": ["-mavx512f", "-mavx2", "-mfma", "-mprefer-vector-width=256", "-fPIC"]
        },
        {
          "target_name": "autorec_kernel_avx2",
          "type": "static_library",
          "sources": ["src/native/autorec.cc"],
          "defines": ["KERNEL_NS=k_avx2"],
          "cflags_cc": ["-mavx2", "-mfma", "-fPIC"]
        }
      ]
    }],
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "nnmf_kernel_avx512",
          "type": "static_library",
          "sources": ["<@(nnmf_kernel_sources)"],
          "defines": ["KERNEL_NS=k_avx512"],
          "cflags_cc": ["-mavx512f", "-mavx2", "-mfma", "-mprefer-vector-width=256", "-fPIC"]
        },
        {
          "target_name": "nnmf_kernel_avx2",
          "type": "static_library",
          "sources": ["<@(nnmf_kernel_sources)"],
          "defines": ["KERNEL_NS=k_avx2"],
          "cflags_cc": ["-mavx2", "-mfma", "-fPIC"]
        }
      ]
    }]
  ]
}
