# Fails unless README.md shows, verbatim (less two spaces of indent), the part
# of examples/job_runner/job_runner.cc between "// [README: paced slices]"
# and "// [README end]": the paced library use the README teaches is the code
# CI builds and runs (PackageTest).
#
#   cmake -DROOT=<source dir> -P readme_excerpt.cmake
cmake_minimum_required(VERSION 3.24)
file(READ "${ROOT}/examples/job_runner/job_runner.cc" source)
file(READ "${ROOT}/README.md" readme)
string(FIND "${source}" "// [README: paced slices]" begin)
string(FIND "${source}" "  // [README end]" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "job_runner.cc has no [README: paced slices] ... [README end] part")
endif()
string(SUBSTRING "${source}" ${begin} -1 rest)
string(FIND "${rest}" "\n" eol)
math(EXPR from "${begin} + ${eol} + 1")
math(EXPR length "${end} - ${from}")
string(SUBSTRING "${source}" ${from} ${length} excerpt)
# (CMake's ^ matches wherever a replacement left off: dedent after newlines.)
string(REPLACE "\n  " "\n" excerpt "\n${excerpt}")
string(SUBSTRING "${excerpt}" 1 -1 excerpt)
string(FIND "${readme}" "```cpp\n${excerpt}```" found)
if(found EQUAL -1)
  message(FATAL_ERROR "README.md does not show job_runner.cc's paced part as it "
    "is now; paste it in again:\n${excerpt}")
endif()
message(STATUS "README.md shows job_runner.cc's paced part")
