# The Debian package (docs/OPERATIONS.md, "Package"). In a build dir
# configured with -DCMAKE_INSTALL_PREFIX=/usr (so the units and configs
# name the paths Debian uses), `cpack -G DEB` makes pdnsx_<version>_amd64.deb
# from what `cmake --install` installs, plus the maintainer scripts of
# packaging/deb/. Build it from a plain build: a sanitizer build would make
# the package depend on libasan.
include(GNUInstallDirs)
set(PX_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)
set(PX_DEB_OUT ${CMAKE_BINARY_DIR}/packaging)
set(PX_DEB_RELEASE 1 CACHE STRING "Debian revision of the package (the part after the '-')")
set(PX_DEB_MAINTAINER "pdnsx maintainers <maintainers@users.noreply.r-seed-b355cd29.example>")

# The example configs become conffiles: dpkg keeps an operator's edits on
# upgrade and removes the files only on purge. /etc when the prefix is /usr.
set(PX_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/pdnsx)
set(PX_CONFFILES ${PX_CONF_DIR}/pdnsx-producer.conf ${PX_CONF_DIR}/pdnsx-consumer.conf)
install(FILES etc/pdnsx-producer.conf etc/pdnsx-consumer.conf DESTINATION ${PX_CONF_DIR})

set(PX_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/pdnsx)
install(FILES README.md ${PX_DEB_DIR}/copyright DESTINATION ${PX_DOC_DIR})
file(GLOB px_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${px_docs} DESTINATION ${PX_DOC_DIR}/docs)

# Man pages from each program's --help and --version, so they never drift
# from the program. Debian wants them (and the changelog) compressed with
# gzip -9n: no name or time stamp in the header.
set(PX_MAN_PROGRAMS
    "pdnsx-producer|passive DNS edge sensor: dnstap or pcap to Kafka, without client data"
    "pdnsx-consumer|central passive DNS consumer: Kafka to the embedded store, detection and alerts"
    "pdnsx-query|look up the passive DNS store (records, domains, alerts, verify)"
    "pdnsx-tail|print the observations of a pdnsx Kafka topic"
    "pdnsx-broker|a mock Kafka cluster on loopback, for development and tests"
    "pdnsx-scenario|write the demo federation's traffic and its expected alerts")
find_program(PX_HELP2MAN help2man)
find_program(PX_GZIP gzip)
configure_file(${PX_DEB_DIR}/pdnsx.h2m.in ${PX_DEB_OUT}/pdnsx.h2m @ONLY)
if(PX_HELP2MAN AND PX_GZIP AND NOT PX_FUZZ)
  set(pages)
  foreach(entry ${PX_MAN_PROGRAMS})
    string(REPLACE "|" ";" entry "${entry}")
    list(GET entry 0 prog)
    list(GET entry 1 what)
    set(page ${PX_DEB_OUT}/man/${prog}.1)
    # A sanitizer build runs them too: --help's leaks do not matter here.
    add_custom_command(
      OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PX_DEB_OUT}/man
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 ${PX_HELP2MAN} --no-info
              --no-discard-stderr --section=1 --source=pdnsx --manual=pdnsx
              --include=${PX_DEB_OUT}/pdnsx.h2m --name=${what} --output=${page} $<TARGET_FILE:${prog}>
      COMMAND ${PX_GZIP} -9nf ${page}
      DEPENDS ${prog} ${PX_DEB_OUT}/pdnsx.h2m
      COMMENT "help2man ${prog}"
      VERBATIM)
    list(APPEND pages ${page}.gz)
  endforeach()
  add_custom_target(px_manpages ALL DEPENDS ${pages})
  install(FILES ${pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man pages (Debian: apt-get install help2man)")
endif()

configure_file(${PX_DEB_DIR}/changelog.in ${PX_DEB_OUT}/changelog @ONLY)
add_custom_command(
  OUTPUT ${PX_DEB_OUT}/changelog.Debian.gz
  COMMAND ${PX_GZIP} -9nc ${PX_DEB_OUT}/changelog > ${PX_DEB_OUT}/changelog.Debian.gz
  DEPENDS ${PX_DEB_OUT}/changelog
  VERBATIM)
add_custom_target(px_changelog ALL DEPENDS ${PX_DEB_OUT}/changelog.Debian.gz)
install(FILES ${PX_DEB_OUT}/changelog.Debian.gz DESTINATION ${PX_DOC_DIR})
# Each override says why next to it. Only the package needs them.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  install(FILES ${PX_DEB_DIR}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
          RENAME pdnsx)
endif()

# The units part of the package are enabled (never started) by postinst,
# Debian's way (deb-systemd-helper). Templates (name@.service) need an
# instance name and are left to the operator.
file(GLOB px_unit_ins CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/systemd/*.service.in)
set(PX_DEB_UNITS)
foreach(u ${px_unit_ins})
  get_filename_component(name ${u} NAME)
  string(REGEX REPLACE "\\.in$" "" name ${name})
  if(NOT name MATCHES "@")
    list(APPEND PX_DEB_UNITS ${name})
  endif()
endforeach()
list(JOIN PX_DEB_UNITS " " PX_DEB_UNITS)
string(REPLACE ";" "\n" PX_CONFFILE_LINES "${PX_CONFFILES}")
file(WRITE ${PX_DEB_OUT}/conffiles "${PX_CONFFILE_LINES}\n")
foreach(script postinst prerm postrm)
  configure_file(${PX_DEB_DIR}/${script}.in ${PX_DEB_OUT}/${script} @ONLY)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pdnsx)
set(CPACK_PACKAGE_VENDOR pdnsx)
set(CPACK_PACKAGE_CONTACT "${PX_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "federated passive DNS: edge sensor, Kafka consumer and store")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE ${PX_DEB_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PX_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Beside the shared libraries: the maintainer scripts' tools, and procps
# for /bin/kill (the units' ExecReload sends SIGHUP with it).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~), procps")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "unbound | bind9")
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; CPack indents this.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "pdnsx-producer runs beside an organisation's resolvers, reads their responses
from dnstap or pcap, drops everything that could identify a person and
publishes aggregated observations to Kafka. pdnsx-consumer merges every
organisation's observations into an embedded LMDB store, runs detection and
sends alerts; pdnsx-query looks the history up.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PX_DEB_OUT}/conffiles ${PX_DEB_OUT}/postinst ${PX_DEB_OUT}/prerm ${PX_DEB_OUT}/postrm)
# 0644 for conffiles, 0755 for the scripts, as dpkg expects.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
