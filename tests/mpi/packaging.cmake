# cmake -P packaging.cmake: install the build tree into a fresh prefix, then build
# and run (2 ranks) a consumer of libwsexec_mpi with find_package (shared and
# static targets) and with pkg-config (wsexec_mpi.pc).
# Variables: BUILD_DIR, WORK, CONSUMER_DIR, C_COMPILER, SAN_FLAGS, PKG_CONFIG, RUN.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  message(STATUS "ok: ${ARGN}")
endfunction()

file(REMOVE_RECURSE "${WORK}")
set(prefix "${WORK}/prefix")
run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/wsexec_mpi.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(GLOB_RECURSE pcs "${prefix}/*/wsexec_mpi.pc")
file(GLOB_RECURSE sos "${prefix}/*/libwsexec_mpi.so")
if(NOT pcs OR NOT sos)
  message(FATAL_ERROR "libwsexec_mpi.so or wsexec_mpi.pc not installed under ${prefix}")
endif()

run("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${WORK}/consumer"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_COMPILER=${C_COMPILER}"
    "-DCMAKE_C_FLAGS=${SAN_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}")
run("${CMAKE_COMMAND}" --build "${WORK}/consumer")
run("${RUN}" 2 "${WORK}/consumer/consumer")
run("${RUN}" 2 "${WORK}/consumer/consumer_static")

get_filename_component(pcdir "${pcs}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs wsexec_mpi
  RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config wsexec_mpi failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")
get_filename_component(libdir "${sos}" DIRECTORY)
run("${C_COMPILER}" ${san} "${CONSUMER_DIR}/main.c" -o "${WORK}/consumer_pc" ${flags}
    "-Wl,-rpath,${libdir}")
run("${RUN}" 2 "${WORK}/consumer_pc")
