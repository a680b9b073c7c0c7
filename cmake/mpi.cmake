# Data parallelism across processes uses MPI (OpenMPI from Debian: libopenmpi-dev, openmpi-bin):
# compiled whenever MPI is found (UTT_MPI=AUTO), required with ON, skipped with OFF. Without it,
# src/dist/no_mpi provides the same functions and a run trains in one process.
set(UTT_HAVE_MPI OFF)
if(NOT UTT_MPI STREQUAL "OFF")
  # utt calls MPI's C API only: mpi.h without the deprecated C++ bindings' headers.
  set(MPI_CXX_SKIP_MPICXX ON)
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(UTT_HAVE_MPI ON)
  elseif(UTT_MPI STREQUAL "ON")
    message(FATAL_ERROR "UTT_MPI=ON but MPI was not found: install libopenmpi-dev and openmpi-bin "
                        "(scripts/setup does) or configure with -DUTT_MPI=AUTO or OFF")
  endif()
endif()
if(UTT_HAVE_MPI)
  message(STATUS "utt: MPI ON (MPI ${MPI_CXX_VERSION}; launcher ${MPIEXEC_EXECUTABLE})")
else()
  message(STATUS "utt: MPI OFF (UTT_MPI=${UTT_MPI})")
endif()
