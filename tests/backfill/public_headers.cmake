# Fails unless HEADERS (comma-separated, relative to ROOT/backfill: the
# headers backfill/CMakeLists.txt installs) is exactly the set of headers that
# backfill/backfill.h, backfill/pacing.h and backfill/backfill_c.h include
# (with themselves), directly or through each
# other: every type the public API names is installed, and nothing else is.
#
#   cmake -DROOT=<source dir> -DHEADERS=backfill.h,pacing.h,... -P public_headers.cmake
cmake_minimum_required(VERSION 3.24)
string(REPLACE "," ";" listed "${HEADERS}")
list(TRANSFORM listed PREPEND "backfill/")
list(SORT listed)

set(todo backfill/backfill.h backfill/pacing.h backfill/backfill_c.h)
set(closure "")
while(todo)
  list(POP_FRONT todo header)
  if(header IN_LIST closure)
    continue()
  endif()
  if(NOT EXISTS "${ROOT}/${header}")
    message(FATAL_ERROR "${header} is included but does not exist")
  endif()
  list(APPEND closure ${header})
  file(STRINGS "${ROOT}/${header}" includes REGEX "^#include \"backfill/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
    list(APPEND todo ${included})
  endforeach()
endwhile()
list(SORT closure)

set(missing ${closure})
list(REMOVE_ITEM missing ${listed})
set(extra ${listed})
list(REMOVE_ITEM extra ${closure})
if(missing OR extra)
  message(FATAL_ERROR "BACKFILL_PUBLIC_HEADERS is not the public API's include "
    "closure: not installed but included: [${missing}]; installed but not "
    "included: [${extra}]")
endif()
list(LENGTH closure n)
message(STATUS "the ${n} installed headers are the public API's include closure")
