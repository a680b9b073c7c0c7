// UTT_HOST_DEVICE marks a function that both compilers build: nvcc for the CUDA kernels that call
// it, the host compiler for the CPU tests that run the same function in a plain loop against the
// reference kernels (so the kernels' per-element and per-row arithmetic is tested without a GPU).
#pragma once

#if defined(__CUDACC__)
#define UTT_HOST_DEVICE __host__ __device__ inline
#else
#define UTT_HOST_DEVICE inline
#endif
