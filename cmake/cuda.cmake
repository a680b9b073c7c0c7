# The CUDA backend is compiled whenever nvcc is found (UTT_CUDA=AUTO), required with ON,
# and skipped with OFF. Without it, src/backend/no_cuda provides the same interface and
# answers "built without CUDA support" (the backend is chosen here, not by #ifdefs).
set(UTT_HAVE_CUDA OFF)
if(NOT UTT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Ampere and Hopper (H100/H200), set before enable_language so CMake's probe default
    # does not win; PTX of the newest lets later GPUs JIT-compile it.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    # The matmuls go through cuBLAS (its header here; the library is opened at run time).
    find_file(UTT_CUBLAS_HEADER cublas_v2.h PATHS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
    if(UTT_CUBLAS_HEADER)
      set(UTT_HAVE_CUDA ON)
    elseif(UTT_CUDA STREQUAL "ON")
      message(FATAL_ERROR "UTT_CUDA=ON but the CUDA toolkit has no cuBLAS (cublas_v2.h): install "
                          "its cuBLAS development package or configure with -DUTT_CUDA=OFF")
    else()
      message(STATUS "utt: nvcc found, but no cuBLAS header: building without the CUDA backend")
    endif()
  elseif(UTT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "UTT_CUDA=ON but no CUDA compiler (nvcc) was found: install the CUDA toolkit "
                        "or configure with -DUTT_CUDA=AUTO or OFF")
  endif()
endif()
if(UTT_HAVE_CUDA)
  # CMake 3.25 does not know nvcc's C++20 flag; the CUDA sources need only C++17.
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  message(STATUS "utt: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "utt: CUDA backend OFF (UTT_CUDA=${UTT_CUDA})")
endif()
