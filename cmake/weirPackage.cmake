# What an installed weir is besides the binaries, plugins and SDK (installed where they are
# built), and the Debian package of all of it: scripts/package.sh -> weir_VERSION_amd64.deb.
# Layout under the prefix (/usr in the package): bin/ the host and tools, lib/weir/plugins/
# the stock plugins, include/weir + lib/cmake/weir the SDK, share/weir/{pipelines,rules},
# lib/systemd/system/weir@.service, share/man/man1, share/doc/weir. docs/operations.md.

install(DIRECTORY pipelines rules DESTINATION ${CMAKE_INSTALL_DATADIR}/weir)
install(FILES packaging/weir@.service DESTINATION lib/systemd/system)
install(FILES README.md docs/operations.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages from each command's --help (help2man), built with the commands; none without help2man.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(pages)
  # target | NAME line of the page | subcommands whose --help the page includes
  foreach(entry
      "weir|runs dataflow pipelines of shared-library plugins described in TOML|run validate graph plugins ctl"
      "weir-hbase|scans, reads and corrects rows of an HBase table through its Thrift2 gateway|"
      "weir-overspeed|lists the cars the over-speed rule flagged on a day, from Redis|"
      "weir-loggen|prints smart-car driving-log lines, the loggen plugin's simulator|"
      "weir-rules|puts, gets and lists versions of EPL rules in cep_rule's rule store|")
    string(REPLACE "|" ";" fields "${entry}")
    list(GET fields 0 tool)
    list(GET fields 1 description)
    list(GET fields 2 subcommands)
    if(NOT TARGET ${tool})
      continue()  # its plugin is not built (WEIR_SKIP_PLUGINS)
    endif()
    separate_arguments(subcommands)
    set(page ${CMAKE_BINARY_DIR}/man/${tool}.1.gz)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${PROJECT_SOURCE_DIR}/packaging/man-page.sh ${page} $<TARGET_FILE:${tool}> ${PROJECT_VERSION} "${description}" ${subcommands}
      DEPENDS ${tool} ${PROJECT_SOURCE_DIR}/packaging/man-page.sh
      COMMENT "man page of ${tool}" VERBATIM)
    list(APPEND pages ${page})
  endforeach()
  add_custom_target(weir_man_pages ALL DEPENDS ${pages})
  install(FILES ${pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man pages (scripts/install-deps.sh installs it)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weir)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # weir_VERSION_ARCH.deb
set(CPACK_PACKAGE_CONTACT "weir developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "dataflow runtime: TOML pipelines of shared-library plugins")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "weir runs pipelines of operator plugins (Kafka, HBase, Redis, CSV decoding, Esper-compatible EPL rules)\n"
    "declared in TOML files, at least once from sources to sinks. The package holds the host, its tools,\n"
    "the stock plugins, the SDK for writing plugins, the smart-car pipelines, and weir@.service.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The Debian packages of the libraries actually linked, by dpkg-shlibdeps over every binary and plugin.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)  # postinst creates the weir user
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)  # the build keeps its debug info; the package does not
include(CPack)
