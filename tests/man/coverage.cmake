# Every function include/wsexec.h exports (WSE_EXPORT) has a man page: its name is
# in the NAME section of a page in docs/man. A new function fails this test until
# it is documented.
#
#   cmake -DHEADER=<wsexec.h> -DMAN_DIR=<build>/man/man3 -P coverage.cmake
#
# MAN_DIR holds the pages and the ".so" link written for every other name of a
# page's NAME section (docs/man/CMakeLists.txt), so a name is documented when
# MAN_DIR/NAME.3 exists.
cmake_minimum_required(VERSION 3.16)

file(READ "${HEADER}" header)
string(REGEX MATCHALL "WSE_EXPORT[^;(]*[ *](wse_[a-z0-9_]+)[ ]*\\(" decls "${header}")
set(declared "")
foreach(d IN LISTS decls)
  string(REGEX MATCH "(wse_[a-z0-9_]+)[ ]*\\($" _ "${d}")
  list(APPEND declared "${CMAKE_MATCH_1}")
endforeach()
list(LENGTH declared n)
if(n LESS 10)
  message(FATAL_ERROR "found only ${n} WSE_EXPORT declarations in ${HEADER}")
endif()
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
