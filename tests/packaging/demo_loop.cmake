# Run `wse-demo --quick --mode loop` with --image and check what it reports and
# writes: exit 0, the loop stopped at the deadline ended CANCELLED with rows left
# unfinished, at least one running chunk saw the stop, and the file is a binary PGM
# (P5) of the two pictures side by side ((2 W + 8) x H, maxval 255).
#
#   cmake -DDEMO=<wse-demo> -DWORKERS=<n> -DWIDTH=<w> -DHEIGHT=<h> -DIMAGE=<path>
#         -P demo_loop.cmake
cmake_minimum_required(VERSION 3.18) # string(HEX)

get_filename_component(dir "${IMAGE}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(REMOVE "${IMAGE}")
execute_process(
  COMMAND "${DEMO}" --quick --mode loop --workers ${WORKERS} --size ${WIDTH}x${HEIGHT}
          --image "${IMAGE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wse-demo exited with ${rc}")
endif()

if(NOT out MATCHES "the loop was done [0-9.]+ ms later: CANCELLED")
  message(FATAL_ERROR "the loop under the deadline was not stopped CANCELLED")
endif()
if(NOT out MATCHES "rows: ([0-9]+) finished")
  message(FATAL_ERROR "no count of finished rows")
endif()
if(NOT CMAKE_MATCH_1 LESS HEIGHT)
  message(FATAL_ERROR "all ${CMAKE_MATCH_1} rows finished: the stop cut nothing short")
endif()
if(NOT out MATCHES "([0-9]+) saw wse_stop_requested\\(\\) while running")
  message(FATAL_ERROR "no count of the chunks that saw the stop")
endif()
if(CMAKE_MATCH_1 LESS 1)
  message(FATAL_ERROR "no running chunk saw the stop")
endif()

if(NOT EXISTS "${IMAGE}")
  message(FATAL_ERROR "${IMAGE} was not written")
endif()
math(EXPR w "2 * ${WIDTH} + 8")
set(header "P5\n${w} ${HEIGHT}\n255\n")
string(LENGTH "${header}" header_len)
string(HEX "${header}" want)
file(READ "${IMAGE}" got LIMIT ${header_len} HEX)
if(NOT got STREQUAL want)
  message(FATAL_ERROR "${IMAGE}: the header is not '${header}' (hex ${got})")
endif()
file(SIZE "${IMAGE}" size)
math(EXPR want_size "${header_len} + ${w} * ${HEIGHT}")
if(NOT size EQUAL want_size)
  message(FATAL_ERROR "${IMAGE}: ${size} bytes, not ${want_size}")
endif()
message("demo_loop: ${IMAGE} is a ${w} x ${HEIGHT} PGM; the stop reached running chunks")
