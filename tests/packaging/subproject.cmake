# wsexec as a subproject of a C++-only parent (project(app CXX)), run as
# `cmake -D... -P subproject.cmake` by CTest. Each STEP writes a parent project
# under WORK/STEP, configures, builds and runs it.
#
#   STEP=add_subdirectory  add_subdirectory(<wsexec>) with no build type: the parent's
#                          CMAKE_BUILD_TYPE stays empty; wsexec::wsexec works from C++;
#                          `cmake --install` of the parent installs nothing of wsexec
#   STEP=fetchcontent      FetchContent from a local archive of the source tree (no
#                          network), CMAKE_BUILD_TYPE=Debug stays Debug; wsexec::wsexec
#   STEP=static_only       WSE_BUILD_SHARED=OFF: only libwsexec.a is built,
#                          wsexec::wsexec_static works, wsexec::wsexec does not exist
#   STEP=shared_only       WSE_BUILD_STATIC=OFF: the converse
#   STEP=no_library        both OFF: configuring fails with a message saying so
#
# Inputs: SOURCE_DIR (wsexec) WORK GENERATOR C_COMPILER CXX_COMPILER SAN_FLAGS
cmake_minimum_required(VERSION 3.16)

if(NOT CXX_COMPILER)
  message(STATUS "SKIPPED: no C++ compiler (g++ or clang++) for the parent project")
  return()
endif()

function(run what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 600)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${cmd}\n${out}${err}")
  endif()
  message(STATUS "${what}: ok")
  set(RUN_OUTPUT "${out}${err}" PARENT_SCOPE)
endfunction()

# The C++ program: submit from C++, wait, check the values.
set(app_cpp [=[
#include <cstdint>
#include <cstdio>
#include <wsexec.h>

static int twice(void *arg, void **result)
{
    *result = reinterpret_cast<void *>(reinterpret_cast<std::uintptr_t>(arg) * 2);
    return 0;
}

int main()
{
    wse_options opts = {};
    opts.workers = 2;
    wse_executor *ex;
    if (wse_executor_create(&ex, &opts) != 0)
        return 1;
    wse_future *f[16];
    for (std::uintptr_t i = 0; i < 16; i++)
        if (wse_submit(ex, twice, reinterpret_cast<void *>(i), &f[i]) != 0)
            return 1;
    size_t n_done = 0;
    bool ok = wse_wait(f, 16, WSE_FOREVER, WSE_ALL_COMPLETED, nullptr, &n_done) == 0 &&
              n_done == 16;
    for (std::uintptr_t i = 0; i < 16; i++) {
        ok = ok && reinterpret_cast<std::uintptr_t>(wse_future_value(f[i])) == 2 * i;
        wse_future_release(f[i]);
    }
    ok = wse_executor_destroy(ex) == 0 && ok;
    std::printf("app %s: %s\n", wse_version_string(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
]=])

# parent(<dir> <how to get wsexec> <target to link> [checks]): a C++-only project.
function(parent dir get target checks)
  file(REMOVE_RECURSE "${dir}")
  file(WRITE "${dir}/app.cpp" "${app_cpp}")
  file(WRITE "${dir}/CMakeLists.txt" "cmake_minimum_required(VERSION 3.16)
project(app CXX)
${get}
add_executable(app app.cpp)
target_link_libraries(app PRIVATE ${target})
install(TARGETS app DESTINATION bin)
${checks}
")
endfunction()

set(wsexec_path "${SOURCE_DIR}")
string(CONCAT build_type_empty
  "get_property(_bt CACHE CMAKE_BUILD_TYPE PROPERTY VALUE)\n"
  "if(NOT \"\${_bt}\" STREQUAL \"\" OR NOT \"\${CMAKE_BUILD_TYPE}\" STREQUAL \"\")\n"
  "  message(FATAL_ERROR \"wsexec changed the build type to '\${CMAKE_BUILD_TYPE}'\")\n"
  "endif()\n")
string(CONCAT build_type_debug
  "if(NOT CMAKE_BUILD_TYPE STREQUAL \"Debug\")\n"
  "  message(FATAL_ERROR \"wsexec changed the build type to '\${CMAKE_BUILD_TYPE}'\")\n"
  "endif()\n")

set(dir "${WORK}/${STEP}")
set(common -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${SAN_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}"
    "-DCMAKE_SHARED_LINKER_FLAGS=${SAN_FLAGS}" "-DCMAKE_C_COMPILER=${C_COMPILER}"
    "-DCMAKE_C_FLAGS=${SAN_FLAGS}")

# build_and_run(<configure args>...): configure dir/build, build, run app.
macro(build_and_run)
  run("configure parent" "${CMAKE_COMMAND}" -S "${dir}" -B "${dir}/build" ${common} ${ARGN})
  run("build parent" "${CMAKE_COMMAND}" --build "${dir}/build")
  run("run app" "${dir}/build/app")
  if(NOT RUN_OUTPUT MATCHES "app [0-9]+[.][0-9]+[.][0-9]+: ok")
    message(FATAL_ERROR "app printed: ${RUN_OUTPUT}")
  endif()
endmacro()

# built_libraries(<var>): the libwsexec files in the parent's build tree.
function(built_libraries var)
  file(GLOB_RECURSE libs RELATIVE "${dir}/build" "${dir}/build/libwsexec*")
  set(${var} "${libs}" PARENT_SCOPE)
endfunction()

if(STEP STREQUAL "add_subdirectory")
  parent("${dir}" "add_subdirectory(\"${wsexec_path}\" wsexec)" wsexec::wsexec
         "${build_type_empty}")
  build_and_run()
  # WSE_INSTALL is OFF for a subproject: the parent's install has only its app.
  run("install parent" "${CMAKE_COMMAND}" --install "${dir}/build" --prefix "${dir}/prefix")
  file(GLOB_RECURSE installed RELATIVE "${dir}/prefix" "${dir}/prefix/*")
  if(NOT installed STREQUAL "bin/app")
    message(FATAL_ERROR "installing the parent installed more than bin/app: ${installed}")
  endif()
  # And WSE_INSTALL=ON brings wsexec's install rules back.
  run("configure parent, WSE_INSTALL=ON" "${CMAKE_COMMAND}" -S "${dir}" -B "${dir}/build"
      -DWSE_INSTALL=ON)
  run("install parent" "${CMAKE_COMMAND}" --install "${dir}/build" --prefix "${dir}/prefix2")
  if(NOT EXISTS "${dir}/prefix2/include/wsexec.h")
    message(FATAL_ERROR "WSE_INSTALL=ON did not install include/wsexec.h")
  endif()

elseif(STEP STREQUAL "fetchcontent")
  # A local archive of the sources stands in for a release tarball.
  file(REMOVE_RECURSE "${WORK}/fetch_src")
  file(MAKE_DIRECTORY "${WORK}/fetch_src/wsexec")
  foreach(item CMakeLists.txt cmake include src tools examples docs)
    if(EXISTS "${SOURCE_DIR}/${item}")
      file(COPY "${SOURCE_DIR}/${item}" DESTINATION "${WORK}/fetch_src/wsexec")
    endif()
  endforeach()
  run("pack the sources" "${CMAKE_COMMAND}" -E chdir "${WORK}/fetch_src"
      "${CMAKE_COMMAND}" -E tar czf "${WORK}/wsexec-src.tar.gz" wsexec)
  parent("${dir}" "include(FetchContent)
FetchContent_Declare(wsexec URL \"file://${WORK}/wsexec-src.tar.gz\")
FetchContent_MakeAvailable(wsexec)" wsexec::wsexec "${build_type_debug}")
  build_and_run(-DCMAKE_BUILD_TYPE=Debug -DFETCHCONTENT_FULLY_DISCONNECTED=OFF)

elseif(STEP STREQUAL "static_only")
  parent("${dir}" "set(WSE_BUILD_SHARED OFF CACHE BOOL \"\")
add_subdirectory(\"${wsexec_path}\" wsexec)
if(TARGET wsexec::wsexec OR TARGET wsexec)
  message(FATAL_ERROR \"WSE_BUILD_SHARED=OFF still defines the shared target\")
endif()" wsexec::wsexec_static "")
  build_and_run()
  built_libraries(libs)
  if(NOT libs MATCHES "libwsexec[.]a" OR libs MATCHES "[.]so")
    message(FATAL_ERROR "WSE_BUILD_SHARED=OFF built: ${libs}")
  endif()

elseif(STEP STREQUAL "shared_only")
  parent("${dir}" "set(WSE_BUILD_STATIC OFF CACHE BOOL \"\")
add_subdirectory(\"${wsexec_path}\" wsexec)
if(TARGET wsexec::wsexec_static OR TARGET wsexec_static)
  message(FATAL_ERROR \"WSE_BUILD_STATIC=OFF still defines the static target\")
endif()" wsexec::wsexec "")
  build_and_run()
  built_libraries(libs)
  if(NOT libs MATCHES "libwsexec[.]so" OR libs MATCHES "[.]a(;|$)")
    message(FATAL_ERROR "WSE_BUILD_STATIC=OFF built: ${libs}")
  endif()

elseif(STEP STREQUAL "no_library")
  parent("${dir}" "add_subdirectory(\"${wsexec_path}\" wsexec)" wsexec::wsexec "")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${dir}" -B "${dir}/build" ${common}
    -DWSE_BUILD_SHARED=OFF -DWSE_BUILD_STATIC=OFF
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "WSE_BUILD_SHARED and WSE_BUILD_STATIC are both OFF")
    message(FATAL_ERROR "both libraries OFF was accepted (${rc}):\n${out}${err}")
  endif()
  message(STATUS "both libraries OFF: refused")

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
