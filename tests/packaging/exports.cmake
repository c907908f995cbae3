# Exported symbols of libwsexec.so: exactly the functions declared WSE_EXPORT in
# include/wsexec.h. Nothing else (no internal wse__ helper, no ck or deque symbol)
# may leak into the dynamic symbol table.
#
#   cmake -DNM=<nm> -DLIB=<libwsexec.so> -DHEADER=<wsexec.h> -P exports.cmake
#
# With -DSTATIC=ON and LIB=<libwsexec.a>: every global symbol the archive defines
# starts with wse_ (public) or wse__ (internal), so a static link cannot clash with
# the program's own names.
cmake_minimum_required(VERSION 3.16)

if(STATIC)
  execute_process(COMMAND "${NM}" -g --defined-only "${LIB}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -g --defined-only ${LIB} failed: ${err}")
  endif()
  string(REGEX MATCHALL "[0-9a-fA-F]+ [A-Za-z] [^\n]+" syms "${out}")
  set(bad)
  foreach(sym IN LISTS syms)
    string(REGEX REPLACE "^[0-9a-fA-F]+ [A-Za-z] " "" name "${sym}")
    # AddressSanitizer adds an ODR indicator (__odr_asan.NAME) for each global
    # variable NAME; it names our variable, so check NAME itself.
    string(REGEX REPLACE "^__odr_asan[.]" "" name "${name}")
    # The library is built with -fexceptions: files with cleanup guards carry
    # the compiler's weak, hidden reference to its personality routine (one
    # per link, merged by the linker), which clashes with nothing.
    if(name STREQUAL "DW.ref.__gcc_personality_v0")
      continue()
    endif()
    if(NOT name MATCHES "^wse_")
      list(APPEND bad "${name}")
    endif()
  endforeach()
  if(bad)
    list(REMOVE_DUPLICATES bad)
    string(REPLACE ";" " " bad "${bad}")
    message(FATAL_ERROR "libwsexec.a defines global symbols outside wse_/wse__: ${bad}")
  endif()
  message(STATUS "libwsexec.a defines only wse_ and wse__ globals")
  return()
endif()

execute_process(COMMAND "${NM}" -D --defined-only "${LIB}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIB} failed: ${err}")
endif()

set(exported)
set(bad)
string(REPLACE "\n" ";" lines "${out}")
foreach(line IN LISTS lines)
  # "<address> <type> <name>[@version]"
  if(NOT line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
    continue()
  endif()
  set(name "${CMAKE_MATCH_2}")
  if(name MATCHES "^wse_[a-z0-9]" )
    list(APPEND exported "${name}")
  else()
    list(APPEND bad "${CMAKE_MATCH_1} ${name}")
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "libwsexec.so exports symbols outside the wse_ API:\n  ${bad}")
endif()

file(READ "${HEADER}" header)
string(REGEX MATCHALL "WSE_EXPORT[^;(]*[ *](wse_[a-z0-9_]+)[ ]*\\(" decls "${header}")
set(declared)
foreach(d IN LISTS decls)
  string(REGEX MATCH "(wse_[a-z0-9_]+)[ ]*\\($" _ "${d}")
  list(APPEND declared "${CMAKE_MATCH_1}")
endforeach()
list(LENGTH declared n_declared)
if(n_declared LESS 10)
  message(FATAL_ERROR "found only ${n_declared} WSE_EXPORT declarations in ${HEADER}")
endif()

set(missing ${declared})
list(REMOVE_ITEM missing ${exported})
set(extra ${exported})
list(REMOVE_ITEM extra ${declared})
if(missing)
  message(FATAL_ERROR "declared in wsexec.h but not exported: ${missing}")
endif()
if(extra)
  message(FATAL_ERROR "exported but not declared in wsexec.h: ${extra}")
endif()
list(LENGTH exported n)
message(STATUS "libwsexec.so exports exactly the ${n} functions of wsexec.h")
