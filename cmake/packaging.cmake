# Debian packages through CPack: `cmake --build build --target package` (or
# scripts/package) writes, in the build directory,
#
#   backfill_<version>_amd64.deb         the command, libbackfill.so.<SOVERSION>,
#                                        the man page, bash completion, and the
#                                        Prometheus rules and Grafana dashboard
#   libbackfill-dev_<version>_amd64.deb  headers, the libbackfill.so link and
#                                        the CMake package (find_package)
#
# as Debian splits a library's development files from its runtime. The
# runtime package's dependencies are computed by dpkg-shlibdeps from the
# binaries (libpqxx, libmariadb, abseil, prometheus-cpp, libstdc++ ...), so
# `apt-get install ./backfill_*.deb` pulls in exactly what they link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME backfill)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "backfill maintainers <backfill@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "chunked, resumable, throttled data backfills for online schema changes")
set(CPACK_PACKAGE_DESCRIPTION
  "backfill runs the data-migration step of an online schema change on
PostgreSQL and MySQL/MariaDB: keyset chunks, guarded idempotent writes, a
checkpoint committed with every chunk, and pacing on replication lag, query
latency and chunk time. Prometheus metrics while it runs.")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file for libbackfill, and the ldconfig trigger that goes with it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME backfill)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "bash-completion, prometheus")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libbackfill-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The CMake package calls find_dependency(absl): abseil's own CMake files.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "backfill (= ${PROJECT_VERSION}), libabsl-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "Development files of libbackfill: the C++ headers (backfill/backfill.h),
the libbackfill.so link and the CMake package, for
find_package(backfill) and target_link_libraries(... backfill::backfill).")

include(CPack)
