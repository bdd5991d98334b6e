# Finds libtorch (>= 2.4) and defines the target nq::torch.
#
# Search order (DESIGN.md): the LIBTORCH env var (a libtorch root), the Torch_DIR env or cache
# var (its share/cmake/Torch folder), the cmake prefix of an installed Python `torch`, then a
# system libtorch. When Torch was built with CUDA and a CUDA compiler is present, Torch's own
# CMake config is used and CUDA is enabled (NQ_WITH_CUDA). Otherwise only the CPU libraries
# (torch_cpu, c10) are linked: the PyPI wheel then serves as a CPU libtorch even where the
# CUDA toolkit is absent, since its TorchConfig would insist on finding CUDA.

set(_nq_tried "")
set(_nq_roots "")

if(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
  list(APPEND _nq_roots "$ENV{LIBTORCH}")
  string(APPEND _nq_tried "\n  LIBTORCH=$ENV{LIBTORCH}")
else()
  string(APPEND _nq_tried "\n  LIBTORCH (env): not set")
endif()
if("$ENV{Torch_DIR}" STREQUAL "" AND ("${Torch_DIR}" STREQUAL "" OR "${Torch_DIR}" MATCHES "NOTFOUND"))
  string(APPEND _nq_tried "\n  Torch_DIR (env or -DTorch_DIR): not set")
endif()
foreach(_td "$ENV{Torch_DIR}" "${Torch_DIR}")
  if(NOT "${_td}" STREQUAL "" AND NOT "${_td}" MATCHES "NOTFOUND")
    get_filename_component(_r "${_td}/../../.." ABSOLUTE)
    list(APPEND _nq_roots "${_r}")
    string(APPEND _nq_tried "\n  Torch_DIR=${_td}")
  endif()
endforeach()
find_program(NQ_PYTHON NAMES python3 python)
if(NQ_PYTHON)
  execute_process(
    COMMAND "${NQ_PYTHON}" -c "import os, torch; print(os.path.dirname(torch.__file__))"
    OUTPUT_VARIABLE _py_torch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _py_rc)
  if(_py_rc EQUAL 0 AND NOT "${_py_torch}" STREQUAL "")
    list(APPEND _nq_roots "${_py_torch}")
  endif()
  string(APPEND _nq_tried "\n  python torch (${NQ_PYTHON} -c 'import torch'): ${_py_torch}")
endif()
foreach(_sys /usr/local/libtorch /opt/libtorch /usr/lib/libtorch /usr/local /usr)
  list(APPEND _nq_roots "${_sys}")
endforeach()
string(APPEND _nq_tried "\n  system: /usr/local/libtorch /opt/libtorch /usr/lib/libtorch /usr/local /usr")

set(NQ_TORCH_ROOT "")
foreach(_r IN LISTS _nq_roots)
  if(EXISTS "${_r}/include/torch/csrc/api/include/torch/version.h" AND
     (EXISTS "${_r}/lib/libtorch_cpu.so" OR EXISTS "${_r}/lib/libtorch_cpu.dylib"))
    set(NQ_TORCH_ROOT "${_r}")
    break()
  endif()
endforeach()

if(NQ_TORCH_ROOT STREQUAL "")
  message(FATAL_ERROR
    "node-qlora: libtorch (>= 2.4) not found. Tried:${_nq_tried}\n"
    "Fix it one of these ways:\n"
    "  - pip install torch            (the PyPI wheel serves as libtorch, CPU or CUDA)\n"
    "  - export LIBTORCH=/path/to/libtorch   (an unpacked libtorch zip)\n"
    "  - export Torch_DIR=/path/to/libtorch/share/cmake/Torch\n"
    "then run `npm run build` again.")
endif()

# Version: torch/headeronly/version.h (>= 2.9) or the api version.h (older).
set(_ver_file "${NQ_TORCH_ROOT}/include/torch/headeronly/version.h")
if(NOT EXISTS "${_ver_file}")
  set(_ver_file "${NQ_TORCH_ROOT}/include/torch/csrc/api/include/torch/version.h")
endif()
file(STRINGS "${_ver_file}" _ver_major REGEX "#define TORCH_VERSION_MAJOR")
file(STRINGS "${_ver_file}" _ver_minor REGEX "#define TORCH_VERSION_MINOR")
string(REGEX MATCH "[0-9]+" NQ_TORCH_MAJOR "${_ver_major}")
string(REGEX MATCH "[0-9]+" NQ_TORCH_MINOR "${_ver_minor}")
if(NQ_TORCH_MAJOR LESS 2 OR (NQ_TORCH_MAJOR EQUAL 2 AND NQ_TORCH_MINOR LESS 4))
  message(FATAL_ERROR "node-qlora: libtorch ${NQ_TORCH_MAJOR}.${NQ_TORCH_MINOR} at ${NQ_TORCH_ROOT} is too old; 2.4 or newer is needed (pip install -U torch).")
endif()
message(STATUS "node-qlora: libtorch ${NQ_TORCH_MAJOR}.${NQ_TORCH_MINOR} at ${NQ_TORCH_ROOT}")

set(NQ_WITH_CUDA OFF)
if(EXISTS "${NQ_TORCH_ROOT}/lib/libtorch_cuda.so" AND NOT NQ_CPU_ONLY)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(NQ_WITH_CUDA ON)
  else()
    message(STATUS "node-qlora: Torch has CUDA but no CUDA compiler was found: building the CPU engine only")
  endif()
endif()

if(NQ_WITH_CUDA)
  enable_language(CUDA)
  find_package(Torch REQUIRED PATHS "${NQ_TORCH_ROOT}/share/cmake/Torch" NO_DEFAULT_PATH)
  add_library(nq_torch INTERFACE)
  target_link_libraries(nq_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_definitions(nq_torch INTERFACE NQ_WITH_CUDA=1)
  set(NQ_TORCH_LIBDIR "${NQ_TORCH_ROOT}/lib")
  # Data-parallel training through c10d::ProcessGroupNCCL (libtorch_cuda) needs nccl.h, which
  # the PyPI wheel leaves to the nvidia-nccl package (site-packages/nvidia/nccl). Without it the
  # addon still builds; multi-GPU training then uses the TCPStore backend.
  get_filename_component(_nq_site "${NQ_TORCH_ROOT}/.." ABSOLUTE)
  find_path(NQ_NCCL_INCLUDE_DIR nccl.h HINTS "$ENV{NCCL_INCLUDE_DIR}" "${_nq_site}/nvidia/nccl/include")
  find_library(NQ_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS "$ENV{NCCL_LIB_DIR}" "${_nq_site}/nvidia/nccl/lib")
  if(NQ_NCCL_INCLUDE_DIR AND NQ_NCCL_LIBRARY)
    message(STATUS "node-qlora: NCCL at ${NQ_NCCL_INCLUDE_DIR} (${NQ_NCCL_LIBRARY})")
    target_include_directories(nq_torch SYSTEM INTERFACE "${NQ_NCCL_INCLUDE_DIR}")
    target_link_libraries(nq_torch INTERFACE "${NQ_NCCL_LIBRARY}")
    target_compile_definitions(nq_torch INTERFACE NQ_WITH_NCCL=1 USE_C10D_NCCL=1)
  else()
    message(STATUS "node-qlora: nccl.h or libnccl not found (set NCCL_INCLUDE_DIR / NCCL_LIB_DIR): multi-GPU training will use the TCPStore backend")
  endif()
else()
  # CPU only: the two libraries the CPU path uses, with Torch's ABI flag.
  set(NQ_TORCH_LIBDIR "${NQ_TORCH_ROOT}/lib")
  add_library(nq_torch INTERFACE)
  target_include_directories(nq_torch SYSTEM INTERFACE
    "${NQ_TORCH_ROOT}/include" "${NQ_TORCH_ROOT}/include/torch/csrc/api/include")
  target_link_libraries(nq_torch INTERFACE
    "${NQ_TORCH_LIBDIR}/libtorch_cpu${CMAKE_SHARED_LIBRARY_SUFFIX}"
    "${NQ_TORCH_LIBDIR}/libc10${CMAKE_SHARED_LIBRARY_SUFFIX}")
  set(_abi "")
  if(EXISTS "${NQ_TORCH_ROOT}/share/cmake/Torch/TorchConfig.cmake")
    file(STRINGS "${NQ_TORCH_ROOT}/share/cmake/Torch/TorchConfig.cmake" _abi_line REGEX "_GLIBCXX_USE_CXX11_ABI=[01]")
    string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=[01]" _abi "${_abi_line}")
  endif()
  if(_abi STREQUAL "" AND NQ_PYTHON AND NQ_TORCH_ROOT STREQUAL _py_torch)
    execute_process(COMMAND "${NQ_PYTHON}" -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
      OUTPUT_VARIABLE _abi_bit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_abi_bit MATCHES "^[01]$")
      set(_abi "_GLIBCXX_USE_CXX11_ABI=${_abi_bit}")
    endif()
  endif()
  if(NOT _abi STREQUAL "")
    target_compile_definitions(nq_torch INTERFACE ${_abi})
  endif()
endif()
add_library(nq::torch ALIAS nq_torch)
