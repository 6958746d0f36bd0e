# systemd units (etc/systemd/*.service.in), configured with the install
# paths: the programs' directory, and one shared sandbox (sandbox.in) so
# the three units cannot drift apart. docs/OPERATIONS.md, "systemd".
#
# Installed to /lib/systemd/system under prefix /usr (where Debian 12's
# packages put units), to PREFIX/lib/systemd/system otherwise;
# PX_SYSTEMD_UNITDIR overrides. The pcap drop-in is installed beside the
# examples: an operator adds it only for live capture.
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(px_unitdir_default /lib/systemd/system)
else()
  set(px_unitdir_default lib/systemd/system)
endif()
set(PX_SYSTEMD_UNITDIR ${px_unitdir_default} CACHE STRING "where the systemd units are installed")

set(PX_UNIT_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(px_unit_src ${PROJECT_SOURCE_DIR}/etc/systemd)
file(READ ${px_unit_src}/sandbox.in PX_UNIT_SANDBOX)
string(STRIP "${PX_UNIT_SANDBOX}" PX_UNIT_SANDBOX)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${px_unit_src}/sandbox.in)

set(PX_SYSTEMD_UNITS pdnsx-producer.service pdnsx-producer@.service pdnsx-consumer.service)
set(PX_SYSTEMD_UNIT_DIR_BUILD ${CMAKE_BINARY_DIR}/systemd)
foreach(unit ${PX_SYSTEMD_UNITS})
  configure_file(${px_unit_src}/${unit}.in ${PX_SYSTEMD_UNIT_DIR_BUILD}/${unit} @ONLY)
  install(FILES ${PX_SYSTEMD_UNIT_DIR_BUILD}/${unit} DESTINATION ${PX_SYSTEMD_UNITDIR})
endforeach()
install(FILES ${px_unit_src}/pdnsx-producer-pcap.conf DESTINATION share/pdnsx/systemd)
