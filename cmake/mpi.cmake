# libwsexec_mpi: wsexec futures across the ranks of an MPI job (src/mpi/,
# include/wsexec_mpi.h). WSE_MPI=AUTO builds it when find_package(MPI COMPONENTS C)
# finds a C MPI, ON requires it, OFF never builds it. The default is AUTO at top level
# and OFF as a subproject (a parent that wants the layer says so, as for the tools).
# The core library never links MPI: only these targets do.

if(WSE_TOP_LEVEL)
  set(_wse_mpi_default AUTO)
else()
  set(_wse_mpi_default OFF)
endif()
set(WSE_MPI ${_wse_mpi_default} CACHE STRING
    "Build libwsexec_mpi: AUTO (when C MPI is found), ON, OFF")
set_property(CACHE WSE_MPI PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${WSE_MPI}" _wse_mpi)
if(NOT _wse_mpi MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "WSE_MPI takes AUTO, ON or OFF, not '${WSE_MPI}'")
endif()

set(WSE_MPI_BUILT OFF)
if(NOT _wse_mpi STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(WSE_MPI_BUILT ON)
  elseif(_wse_mpi STREQUAL "ON")
    message(FATAL_ERROR "WSE_MPI=ON but no C MPI was found: install the Debian packages "
                        "libopenmpi-dev and openmpi-bin (tools/setup.sh --mpi)")
  else()
    message(STATUS "wsexec: no C MPI found, libwsexec_mpi is not built "
                   "(tools/setup.sh --mpi installs Open MPI)")
  endif()
endif()

if(WSE_MPI_BUILT)
  message(STATUS "wsexec: building libwsexec_mpi with MPI ${MPI_C_VERSION}")
  set(WSE_MPI_SOURCES src/mpi/mpi.c src/mpi/progress.c src/mpi/result.c)
  list(TRANSFORM WSE_MPI_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/" OUTPUT_VARIABLE WSE_MPI_SOURCES_ABS)

  # wse_mpi_library(NAME TYPE CORE): the layer, linked to the core library CORE.
  function(wse_mpi_library name type core)
    add_library(${name} ${type} ${WSE_MPI_SOURCES})
    target_include_directories(${name}
      PUBLIC  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
              $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
      PRIVATE ${PROJECT_SOURCE_DIR}/src/mpi)
    target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
    target_compile_options(${name} PRIVATE ${WSE_WARNINGS})
    target_link_libraries(${name} PUBLIC ${core} MPI::MPI_C Threads::Threads)
  endfunction()

  # Shared and static, as the core library is built (WSE_BUILD_SHARED/STATIC).
  set(WSE_MPI_TARGETS "")
  if(WSE_BUILD_SHARED)
    wse_mpi_library(wsexec_mpi SHARED wsexec)
    set_target_properties(wsexec_mpi PROPERTIES
      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR} EXPORT_NAME wsexec_mpi)
    add_library(wsexec::wsexec_mpi ALIAS wsexec_mpi)
    list(APPEND WSE_MPI_TARGETS wsexec_mpi)
    set(WSE_MPI_LIBRARY wsexec::wsexec_mpi)
  endif()
  if(WSE_BUILD_STATIC)
    wse_mpi_library(wsexec_mpi_static STATIC wsexec_static)
    set_target_properties(wsexec_mpi_static PROPERTIES
      OUTPUT_NAME wsexec_mpi EXPORT_NAME wsexec_mpi_static)
    add_library(wsexec::wsexec_mpi_static ALIAS wsexec_mpi_static)
    list(APPEND WSE_MPI_TARGETS wsexec_mpi_static)
    if(NOT WSE_BUILD_SHARED)
      set(WSE_MPI_LIBRARY wsexec::wsexec_mpi_static)
    endif()
  endif()

  if(WSE_BUILD_TOOLS)
    add_executable(wse-mpi-demo tools/wse-mpi-demo.c)
    target_compile_definitions(wse-mpi-demo PRIVATE _GNU_SOURCE)
    target_compile_options(wse-mpi-demo PRIVATE ${WSE_WARNINGS})
    target_link_libraries(wse-mpi-demo PRIVATE ${WSE_MPI_LIBRARY})
    set_target_properties(wse-mpi-demo PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tools")
    # The benchmark programs, in build/bench: wse_mpi_bench_program(NAME SOURCE LIBS...).
    function(wse_mpi_bench_program name source)
      add_executable(${name} ${source})
      target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
      target_compile_options(${name} PRIVATE ${WSE_WARNINGS})
      target_link_libraries(${name} PRIVATE ${ARGN})
      set_target_properties(${name} PROPERTIES
        RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/bench")
    endfunction()
    # The layer against raw MPI (docs/performance.md).
    wse_mpi_bench_program(wse-mpi-bench bench/mpi_bench.c ${WSE_MPI_LIBRARY})
    # The imbalanced batch (bench/mpi_batch.h) with wsexec and with the programs HPC
    # users would write for it: MPI+OpenMP with a static split, StarPU-MPI
    # (bench/mpi_batch.sh runs them side by side).
    wse_mpi_bench_program(wse-mpi-batch-bench bench/mpi_batch_wse.c ${WSE_MPI_LIBRARY})
    find_package(OpenMP COMPONENTS C QUIET)
    if(OpenMP_C_FOUND)
      wse_mpi_bench_program(wse-mpi-batch-omp bench/mpi_batch_omp.c OpenMP::OpenMP_C MPI::MPI_C)
    else()
      message(STATUS "wsexec: no OpenMP for C, wse-mpi-batch-omp is not built")
    endif()
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(WSE_STARPU_MPI QUIET IMPORTED_TARGET starpumpi-1.3)
    endif()
    if(WSE_STARPU_MPI_FOUND)
      wse_mpi_bench_program(wse-mpi-batch-starpu bench/mpi_batch_starpu.c
        PkgConfig::WSE_STARPU_MPI MPI::MPI_C)
    else()
      message(STATUS "wsexec: no StarPU-MPI (pkg-config starpumpi-1.3), wse-mpi-batch-starpu "
                     "is not built (tools/setup.sh --bench-mpi installs it)")
    endif()
  endif()
endif()

if(WSE_MPI_BUILT)
  if(WSE_BUILD_TESTS)
    add_subdirectory(tests/mpi)
  endif()
  if(WSE_INSTALL)
    include(cmake/install_mpi.cmake)
  endif()
endif()
