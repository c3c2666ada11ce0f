# The portable llama.cpp build (scripts/setup.sh passes this as -DCMAKE_PROJECT_INCLUDE).
# With -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON ggml compiles its CPU kernels once per
# x86-64 generation, each a library that scores itself against the CPU it runs on; but
# llama-cpp-python installs only the libraries it names, and none of these.  This installs
# them beside libllama, where copilot/compute.py has ggml pick the best one at run time.
# Sapphire Rapids' is left out: its AMX kernels crash llama.cpp 0.3.36 where the kernel does
# not grant AMX (this machine: arch_prctl(ARCH_REQ_XCOMP_PERM) refused); such CPUs run the
# zen4 kernels (AVX-512 with VBMI, VNNI and BF16) instead.
include_guard(GLOBAL)

function(copilot_install_cpu_variants)
  foreach(tag x64 sse42 sandybridge ivybridge piledriver haswell skylakex cannonlake cascadelake
              icelake cooperlake zen4 alderlake)
    llama_cpp_python_install_target(ggml-cpu-${tag})
  endforeach()
endfunction()

cmake_language(DEFER CALL copilot_install_cpu_variants)
