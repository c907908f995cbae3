# Installation (WSE_INSTALL, ON at top level): the header, the libraries built
# (WSE_BUILD_SHARED, WSE_BUILD_STATIC), wsexec.pc, a CMake package, the man pages
# and wse-trace, the reader of the trace files.
#
#   cmake --install build [--prefix /usr/local]
#
# gives, relative to the prefix (libdir is lib, or lib/<multiarch> under /usr):
#   include/wsexec.h, include/wsexec.hpp (the header-only C++17 interface)
#   <libdir>/libwsexec.so.0.1.0, libwsexec.so.0, libwsexec.so, libwsexec.a
#   <libdir>/pkgconfig/wsexec.pc
#   <libdir>/cmake/wsexec/wsexec{Config,ConfigVersion,Targets*}.cmake
#   share/man/man3/wsexec.3, wse_*.3
#   bin/wse-trace (a Python 3 script), share/man/man1/wse-trace.1
#
# Consumers use find_package(wsexec) -> wsexec::wsexec (shared) and
# wsexec::wsexec_static (each if built), or pkg-config wsexec. Neither needs
# Concurrency Kit (used header-only at build time) nor, for CMake, pkg-config. Both
# follow `cmake --install --prefix <dir>`: the CMake package locates the prefix from
# its own path, and wsexec.pc is written at install time.

include(CMakePackageConfigHelpers)

set(WSE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/wsexec"
    CACHE STRING "Where to install the wsexec CMake package (relative to the prefix)")
mark_as_advanced(WSE_INSTALL_CMAKEDIR)

install(TARGETS ${WSE_TARGETS}
  EXPORT wsexecTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/include/wsexec.h" "${PROJECT_SOURCE_DIR}/include/wsexec.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The traces the library writes are read with it; it needs Python 3 only.
install(PROGRAMS "${PROJECT_SOURCE_DIR}/tools/wse-trace" DESTINATION "${CMAKE_INSTALL_BINDIR}")

# The targets link Threads::Threads only; wsexecConfig.cmake finds Threads before it
# includes this file.
install(EXPORT wsexecTargets
  NAMESPACE wsexec::
  FILE wsexecTargets.cmake
  DESTINATION "${WSE_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/wsexecConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/wsexecConfig.cmake"
  INSTALL_DESTINATION "${WSE_INSTALL_CMAKEDIR}")

# Same major version: ABI compatible (see include/wsexec.h).
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/wsexecConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/wsexecConfig.cmake"
  "${PROJECT_BINARY_DIR}/wsexecConfigVersion.cmake"
  DESTINATION "${WSE_INSTALL_CMAKEDIR}")

# pkg-config. The file is written at install time, so its prefix is the one actually
# installed to (also with `cmake --install --prefix <dir>`), and /usr/include stays a
# system directory that pkg-config drops from --cflags.
foreach(_wse_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_wse_dir}}")
    set(_wse_pc_${_wse_dir} "${CMAKE_INSTALL_${_wse_dir}}")
  else()
    set(_wse_pc_${_wse_dir} "\\\${prefix}/${CMAKE_INSTALL_${_wse_dir}}") # a literal ${prefix}
  endif()
endforeach()
install(CODE "
  set(WSE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(WSE_PC_LIBDIR \"${_wse_pc_LIBDIR}\")
  set(WSE_PC_INCLUDEDIR \"${_wse_pc_INCLUDEDIR}\")
  set(PROJECT_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/wsexec.pc.in\"
                 \"${PROJECT_BINARY_DIR}/pkgconfig/wsexec.pc\" @ONLY)
")
install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/wsexec.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
