# Every function include/wsexec.h and include/wsexec_mpi.h export (WSE_EXPORT) has
# a man page: its name is in the NAME section of a page in docs/man. A new function
# fails this test until it is documented.
#
#   cmake -DHEADER=<wsexec.h> -DMPI_HEADER=<wsexec_mpi.h> -DMAN_DIR=<build>/man/man3
#         -P coverage.cmake
#
# MAN_DIR holds the pages and the ".so" link written for every other name of a
# page's NAME section (docs/man/CMakeLists.txt), so a name is documented when
# MAN_DIR/NAME.3 exists. The MPI header is read as text (no mpi.h needed), and its
# pages are in MAN_DIR whether or not libwsexec_mpi is built.
cmake_minimum_required(VERSION 3.16)

# exported(<header> <min> <out>): the wse_ functions <header> declares WSE_EXPORT;
# fewer than <min> means the pattern no longer sees the declarations.
function(exported header min out)
  file(READ "${header}" text)
  string(REGEX MATCHALL "WSE_EXPORT[^;(]*[ *](wse_[a-z0-9_]+)[ ]*\\(" decls "${text}")
  set(names "")
  foreach(d IN LISTS decls)
    string(REGEX MATCH "(wse_[a-z0-9_]+)[ ]*\\($" _ "${d}")
    list(APPEND names "${CMAKE_MATCH_1}")
  endforeach()
  list(LENGTH names n)
  if(n LESS min)
    message(FATAL_ERROR "found only ${n} WSE_EXPORT declarations in ${header}")
  endif()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

exported("${HEADER}" 10 declared)
if(NOT MPI_HEADER)
  message(FATAL_ERROR "MPI_HEADER is not set")
endif()
exported("${MPI_HEADER}" 5 mpi_declared)
list(APPEND declared ${mpi_declared})
list(LENGTH declared n)
set(missing "")
foreach(name IN LISTS declared)
  if(NOT EXISTS "${MAN_DIR}/${name}.3")
    list(APPEND missing "${name}")
  endif()
endforeach()
if(missing)
  string(REPLACE ";" " " missing "${missing}")
  message(FATAL_ERROR "exported without a man page (add it to a NAME section in "
                      "docs/man/, then re-run cmake): ${missing}")
endif()
message(STATUS "all ${n} exported functions have a man page")
