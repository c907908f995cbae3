# Packaging test driver, run as `cmake -D... -P consumer.cmake` by CTest.
#
#   STEP=install       cmake --install BUILD_DIR --prefix PREFIX (into an empty PREFIX)
#   STEP=find_package  configure, build and run consumer/ with find_package(wsexec)
#                      against PREFIX: one program on wsexec::wsexec, one on
#                      wsexec::wsexec_static. pkg-config is disabled for the consumer
#                      and the installed package must not mention ck or pkg-config.
#   STEP=pkg_config    compile and run consumer/main.c with the flags of
#                      `pkg-config --cflags --libs wsexec`, then statically with
#                      `pkg-config --static`; PKG_CONFIG_LIBDIR holds PREFIX only (no
#                      ck.pc), and the flags must not carry ck's -D__x86_64__ or -lck.
#
# Inputs: BUILD_DIR CONFIG PREFIX WORK CONSUMER_DIR GENERATOR C_COMPILER BUILD_TYPE
#         SAN_FLAGS (space-separated) PKG_CONFIG LIBDIR VERSION
#         MPI (1 when libwsexec_mpi is built: its header and man pages are installed)
cmake_minimum_required(VERSION 3.16)

# run(<what> <command>...): run a command, fail the test with its output if it fails.
function(run what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${cmd}\n${out}${err}")
  endif()
  message(STATUS "${what}: ok")
  set(RUN_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

separate_arguments(san UNIX_COMMAND "${SAN_FLAGS}")

# no_ck_flags(<flags>): Concurrency Kit's flags (ck.pc) must not reach consumers.
function(no_ck_flags flags)
  foreach(leak -D__x86_64__ -lck)
    string(FIND " ${flags} " " ${leak} " at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "pkg-config wsexec leaks ck's ${leak}: ${flags}")
    endif()
  endforeach()
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  set(config_args)
  if(CONFIG)
    set(config_args --config "${CONFIG}")
  endif()
  run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
      ${config_args})
  foreach(f include/wsexec.h
            include/wsexec.hpp
            ${LIBDIR}/libwsexec.a
            ${LIBDIR}/libwsexec.so
            ${LIBDIR}/libwsexec.so.${VERSION}
            ${LIBDIR}/pkgconfig/wsexec.pc
            ${LIBDIR}/cmake/wsexec/wsexecConfig.cmake
            ${LIBDIR}/cmake/wsexec/wsexecConfigVersion.cmake
            ${LIBDIR}/cmake/wsexec/wsexecTargets.cmake
            share/man/man3/wsexec.3
            share/man/man3/wse_wait.3
            share/man/man3/wse_wait_until.3
            bin/wse-trace
            share/man/man1/wse-trace.1)
    if(NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "cmake --install did not install ${f}")
    endif()
  endforeach()
  # The MPI layer's header and man pages come with libwsexec_mpi, and only with it.
  foreach(f include/wsexec_mpi.h
            share/man/man3/wse_mpi_create.3
            share/man/man3/wse_mpi_destroy.3
            share/man/man3/wse_mpi_submit.3
            share/man/man3/wse_mpi_result.3)
    if(MPI AND NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "cmake --install did not install ${f}")
    elseif(NOT MPI AND EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "cmake --install installed ${f} without libwsexec_mpi")
    endif()
  endforeach()

elseif(STEP STREQUAL "find_package")
  set(bin "${WORK}/find_package")
  file(REMOVE_RECURSE "${bin}")
  # Concurrency Kit is wsexec's build-time business: the package must not look for
  # it, nor for pkg-config.
  file(GLOB pkg_files "${PREFIX}/${LIBDIR}/cmake/wsexec/*.cmake")
  foreach(f IN LISTS pkg_files)
    file(READ "${f}" text)
    if(text MATCHES "PkgConfig|pkg_check_modules|[^A-Za-z_]ck[^A-Za-z_]")
      message(FATAL_ERROR "${f} still refers to pkg-config or ck: ${CMAKE_MATCH_0}")
    endif()
  endforeach()
  # No ck.pc on the consumer's pkg-config path, and find_package(PkgConfig) fails.
  set(ENV{PKG_CONFIG_LIBDIR} "${PREFIX}/${LIBDIR}/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "")
  run("configure consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${bin}"
      -G "${GENERATOR}"
      "-DCMAKE_C_COMPILER=${C_COMPILER}"
      "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}"
      "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"
      "-DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON"
      "-DCMAKE_C_FLAGS=${SAN_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${SAN_FLAGS}"
      "-DWSE_EXPECT_PREFIX=${PREFIX}"
      "-DWSE_EXPECT_VERSION=${VERSION}")
  run("build consumer" "${CMAKE_COMMAND}" --build "${bin}")
  foreach(exe consumer_shared consumer_static)
    file(GLOB_RECURSE found "${bin}/${exe}" "${bin}/${exe}.exe")
    list(GET found 0 path)
    run("run ${exe}" "${path}")
  endforeach()
  # SameMajorVersion: asking for another major version must fail.
  file(WRITE "${WORK}/major/CMakeLists.txt"
       "cmake_minimum_required(VERSION 3.16)\nproject(major LANGUAGES C)\n"
       "find_package(wsexec 99 QUIET)\n"
       "if(wsexec_FOUND)\n  message(FATAL_ERROR \"wsexec 99 accepted\")\nendif()\n")
  file(REMOVE_RECURSE "${WORK}/major/build")
  run("find_package(wsexec 99) is refused" "${CMAKE_COMMAND}" -S "${WORK}/major"
      -B "${WORK}/major/build" -G "${GENERATOR}" "-DCMAKE_C_COMPILER=${C_COMPILER}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF")

elseif(STEP STREQUAL "pkg_config")
  set(bin "${WORK}/pkg_config")
  file(REMOVE_RECURSE "${bin}")
  file(MAKE_DIRECTORY "${bin}")
  # Only the prefix: ck.pc (Debian libck-dev) is not on the path, as on a machine
  # without Concurrency Kit.
  set(ENV{PKG_CONFIG_LIBDIR} "${PREFIX}/${LIBDIR}/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "")
  execute_process(COMMAND "${PKG_CONFIG}" --exists ck RESULT_VARIABLE rc)
  if(rc EQUAL 0)
    message(FATAL_ERROR "ck.pc is still visible to pkg-config: the test proves nothing")
  endif()
  run("pkg-config --modversion wsexec" "${PKG_CONFIG}" --modversion wsexec)
  string(STRIP "${RUN_OUTPUT}" v)
  if(NOT v STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says wsexec ${v}, expected ${VERSION}")
  endif()

  # Shared: the flags as pkg-config gives them.
  run("pkg-config --cflags --libs wsexec" "${PKG_CONFIG}" --cflags --libs wsexec)
  string(STRIP "${RUN_OUTPUT}" flags)
  message(STATUS "  ${flags}")
  no_ck_flags("${flags}")
  string(FIND "${flags}" "${PREFIX}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "pkg-config flags do not point into ${PREFIX}: ${flags}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("compile shared consumer" "${C_COMPILER}" -std=c11 -Wall -Wextra -Werror ${san}
      "${CONSUMER_DIR}/main.c" -o "${bin}/consumer_shared" ${flags}
      "-Wl,-rpath,${PREFIX}/${LIBDIR}")
  run("run shared consumer" "${bin}/consumer_shared")

  # Static: Libs.private (-pthread) must be enough to link libwsexec.a;
  # -l:libwsexec.a picks the archive over the shared library.
  run("pkg-config --static --cflags --libs wsexec" "${PKG_CONFIG}" --static --cflags --libs wsexec)
  string(STRIP "${RUN_OUTPUT}" flags)
  message(STATUS "  ${flags}")
  no_ck_flags("${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  list(TRANSFORM flags REPLACE "^-lwsexec$" "-l:libwsexec.a")
  run("compile static consumer" "${C_COMPILER}" -std=c11 -Wall -Wextra -Werror ${san}
      "${CONSUMER_DIR}/main.c" -o "${bin}/consumer_static" ${flags})
  run("run static consumer" "${bin}/consumer_static")

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
