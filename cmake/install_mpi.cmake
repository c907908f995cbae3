# Installation of libwsexec_mpi (included by cmake/mpi.cmake when it is built):
#   include/wsexec_mpi.h
#   <libdir>/libwsexec_mpi.so.0.2.0, libwsexec_mpi.so.0, libwsexec_mpi.so, libwsexec_mpi.a
#   <libdir>/pkgconfig/wsexec_mpi.pc      (Requires: wsexec, ompi-c)
#   <libdir>/cmake/wsexec/wsexec_mpi.cmake and wsexec_mpiTargets*.cmake
#   <mandir>/man3/wse_mpi_*.3             (docs/man: the pages and their .so links)
# find_package(wsexec) then also defines wsexec::wsexec_mpi and
# wsexec::wsexec_mpi_static when it finds C MPI (find_package(MPI COMPONENTS C));
# find_package(wsexec COMPONENTS mpi) requires them.

install(TARGETS ${WSE_MPI_TARGETS}
  EXPORT wsexec_mpiTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/include/wsexec_mpi.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(FILES ${WSE_MAN_MPI_FILES} DESTINATION "${CMAKE_INSTALL_MANDIR}/man3")

install(EXPORT wsexec_mpiTargets
  NAMESPACE wsexec::
  FILE wsexec_mpiTargets.cmake
  DESTINATION "${WSE_INSTALL_CMAKEDIR}")
install(FILES "${CMAKE_CURRENT_LIST_DIR}/wsexec_mpi.cmake"
  DESTINATION "${WSE_INSTALL_CMAKEDIR}")

# pkg-config, written at install time like wsexec.pc (see cmake/install.cmake).
# Open MPI's own pkg-config module for C is ompi-c.
foreach(_wse_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_wse_dir}}")
    set(_wse_mpi_pc_${_wse_dir} "${CMAKE_INSTALL_${_wse_dir}}")
  else()
    set(_wse_mpi_pc_${_wse_dir} "\\\${prefix}/${CMAKE_INSTALL_${_wse_dir}}")
  endif()
endforeach()
install(CODE "
  set(WSE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(WSE_PC_LIBDIR \"${_wse_mpi_pc_LIBDIR}\")
  set(WSE_PC_INCLUDEDIR \"${_wse_mpi_pc_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/wsexec_mpi.pc.in\"
                 \"${PROJECT_BINARY_DIR}/pkgconfig/wsexec_mpi.pc\" @ONLY)
")
install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/wsexec_mpi.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
