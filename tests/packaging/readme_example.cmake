# Extract the ```c block under README.md's "## Usage example" heading, compile it
# against the build tree (include/ and the shared libwsexec), run it, expect exit 0.
#
#   cmake -DREADME=<README.md> -DOUT_DIR=<dir> -DC_COMPILER=<cc> -DINCLUDE_DIR=<dir>
#         -DLIB=<libwsexec.so> -DSAN_FLAGS=<flags> -P readme_example.cmake
cmake_minimum_required(VERSION 3.16)

file(READ "${README}" text)
string(FIND "${text}" "\n## Usage example" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} has no '## Usage example' heading")
endif()
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```c\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no ```c block under '## Usage example' in ${README}")
endif()
math(EXPR at "${at} + 6")
string(SUBSTRING "${text}" ${at} -1 text)
string(FIND "${text}" "\n```" end)
if(end EQUAL -1)
  message(FATAL_ERROR "the ```c block under '## Usage example' is not closed")
endif()
math(EXPR end "${end} + 1")
string(SUBSTRING "${text}" 0 ${end} code)
if(NOT code MATCHES "int main")
  message(FATAL_ERROR "the usage example has no main(); it must be a complete program")
endif()

file(MAKE_DIRECTORY "${OUT_DIR}")
set(src "${OUT_DIR}/readme_example.c")
set(exe "${OUT_DIR}/readme_example")
file(WRITE "${src}" "${code}")
file(REMOVE "${exe}")

separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
get_filename_component(libdir "${LIB}" DIRECTORY)
execute_process(
  COMMAND "${C_COMPILER}" -std=c11 -pedantic -Wall -Wextra -Werror ${san}
          "-I${INCLUDE_DIR}" "${src}" -o "${exe}" "${LIB}" "-Wl,-rpath,${libdir}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README usage example (${src}) does not compile:\n${out}")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
  TIMEOUT 60)
message(STATUS "readme_example output:\n${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README usage example exited with ${rc}")
endif()
