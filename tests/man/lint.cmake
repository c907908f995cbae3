# Every man page renders without a single groff warning, and every ".so" link
# page points at a page that exists.
#
#   cmake -DMAN_DIR=<build>/man/man3 [-DMAN1_DIR=<build>/man/man1] -DGROFF=<groff>
#         -P lint.cmake
#
# groff is what man(1) uses to render; -ww turns on every warning, -rCHECKSTYLE=3
# the man macros' own style checks, -Tutf8 -rLL=72n the terminal layout (a line
# too long to break is a warning there). Without groff: SKIPPED.
cmake_minimum_required(VERSION 3.16)

if(NOT GROFF)
  message(STATUS "SKIPPED: groff not found (Debian package groff-base)")
  return()
endif()
file(GLOB pages "${MAN_DIR}/*.3")
list(LENGTH pages n)
if(n LESS 2)
  message(FATAL_ERROR "no man pages in ${MAN_DIR}")
endif()
if(MAN1_DIR)
  file(GLOB commands "${MAN1_DIR}/*.1")
  list(APPEND pages ${commands})
endif()
set(bad "")
set(n_pages 0)
set(n_links 0)
foreach(page IN LISTS pages)
  file(READ "${page}" text)
  get_filename_component(name "${page}" NAME)
  if(text MATCHES "^\\.so man3/([^\n]+)\n$")
    math(EXPR n_links "${n_links} + 1")
    if(NOT EXISTS "${MAN_DIR}/${CMAKE_MATCH_1}")
      string(APPEND bad "${name}: links to missing ${CMAKE_MATCH_1}\n")
    endif()
    continue()
  endif()
  math(EXPR n_pages "${n_pages} + 1")
  foreach(mode "-z" "-Tutf8;-rLL=72n;-z")
    execute_process(COMMAND "${GROFF}" -man -ww -rCHECKSTYLE=3 ${mode} "${page}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
      string(APPEND bad "${name} (groff ${mode}, exit ${rc}):\n${err}")
    endif()
  endforeach()
endforeach()
if(NOT bad STREQUAL "")
  message(FATAL_ERROR "man pages with warnings:\n${bad}")
endif()
message(STATUS "${n_pages} man pages without warnings, ${n_links} links resolve")
