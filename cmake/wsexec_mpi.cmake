# Part of the installed wsexec CMake package (included by wsexecConfig.cmake):
# wsexec::wsexec_mpi (shared) and wsexec::wsexec_mpi_static, when C MPI is found.
include(CMakeFindDependencyMacro)
if(NOT TARGET MPI::MPI_C)
  find_package(MPI QUIET COMPONENTS C)
endif()
if(TARGET MPI::MPI_C)
  include("${CMAKE_CURRENT_LIST_DIR}/wsexec_mpiTargets.cmake")
  set(wsexec_mpi_FOUND TRUE)
else()
  set(wsexec_mpi_FOUND FALSE)
endif()
