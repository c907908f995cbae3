# Extract the ```LANG block under a README.md heading, compile it against the build
# tree (include/ and the shared libwsexec), run it, expect exit 0. The C usage
# example by default; the C++ tests pass their heading, language and compiler.
#
#   cmake -DREADME=<README.md> -DOUT_DIR=<dir> -DC_COMPILER=<cc> -DINCLUDE_DIR=<dir>
#         -DLIB=<libwsexec.so> -DSAN_FLAGS=<flags>
#         [-DHEADING=<text>] [-DLANG=c|cpp] [-DCXX_COMPILER=<c++>] -P readme_example.cmake
cmake_minimum_required(VERSION 3.16)

if(NOT HEADING)
  set(HEADING "Usage example")
endif()
if(NOT LANG)
  set(LANG c)
endif()
if(LANG STREQUAL "cpp")
  set(compile "${CXX_COMPILER}" -std=c++17 -pedantic -Wall -Wextra -Werror -pthread)
else()
  set(compile "${C_COMPILER}" -std=c11 -pedantic -Wall -Wextra -Werror)
endif()

file(READ "${README}" text)
string(FIND "${text}" "\n## ${HEADING}\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} has no '## ${HEADING}' heading")
endif()
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```${LANG}\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no ```${LANG} block under '## ${HEADING}' in ${README}")
endif()
string(LENGTH "\n```${LANG}\n" fence)
math(EXPR at "${at} + ${fence}")
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```" end)
if(end EQUAL -1)
  message(FATAL_ERROR "the ```${LANG} block under '## ${HEADING}' is not closed")
endif()
math(EXPR end "${end} + 1")
string(SUBSTRING "${text}" 0 ${end} code)
if(NOT code MATCHES "int main")
  message(FATAL_ERROR "the '${HEADING}' example has no main(); it must be a complete program")
endif()

file(MAKE_DIRECTORY "${OUT_DIR}")
set(src "${OUT_DIR}/readme_example.${LANG}")
set(exe "${OUT_DIR}/readme_example")
file(WRITE "${src}" "${code}")
file(REMOVE "${exe}")

separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
get_filename_component(libdir "${LIB}" DIRECTORY)
execute_process(
  COMMAND ${compile} ${san}
          "-I${INCLUDE_DIR}" "${src}" -o "${exe}" "${LIB}" "-Wl,-rpath,${libdir}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README '${HEADING}' example (${src}) does not compile:\n${out}")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
  TIMEOUT 60)
message(STATUS "readme_example output:\n${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README '${HEADING}' example exited with ${rc}:\n${out}")
endif()
