# Extract the ```cpp block under README.md's "## C++" heading, compile it against the
# build tree (include/ and the shared libwsexec), run it, expect exit 0.
#
#   cmake -DREADME=<README.md> -DOUT_DIR=<dir> -DCXX_COMPILER=<c++> -DINCLUDE_DIR=<dir>
#         -DLIB=<libwsexec.so> -DSAN_FLAGS=<flags> -P readme_example.cmake
cmake_minimum_required(VERSION 3.16)

file(READ "${README}" text)
string(FIND "${text}" "\n## C++\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} has no '## C++' heading")
endif()
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```cpp\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no ```cpp block under '## C++' in ${README}")
endif()
math(EXPR at "${at} + 8")
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```" end)
if(end EQUAL -1)
  message(FATAL_ERROR "the ```cpp block under '## C++' is not closed")
endif()
math(EXPR end "${end} + 1")
string(SUBSTRING "${text}" 0 ${end} code)
if(NOT code MATCHES "int main")
  message(FATAL_ERROR "the C++ example has no main(); it must be a complete program")
endif()

file(MAKE_DIRECTORY "${OUT_DIR}")
set(src "${OUT_DIR}/readme_example.cpp")
set(exe "${OUT_DIR}/readme_example")
file(WRITE "${src}" "${code}")
file(REMOVE "${exe}")

separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
get_filename_component(libdir "${LIB}" DIRECTORY)
execute_process(
  COMMAND "${CXX_COMPILER}" -std=c++17 -pedantic -Wall -Wextra -Werror -pthread ${san}
          "-I${INCLUDE_DIR}" "${src}" -o "${exe}" "${LIB}" "-Wl,-rpath,${libdir}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the C++ example does not compile:\n${out}")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the C++ example exited with ${rc}:\n${out}")
endif()
message(STATUS "README's C++ example: ${out}")
