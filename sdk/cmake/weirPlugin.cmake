# weir_add_plugin(NAME SOURCES...)
# Builds a weir plugin: a MODULE library named weir_<NAME>.so that only sees the SDK
# and exports nothing but its entry symbol.
function(weir_add_plugin name)
  set(target weir_${name})
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE weir::sdk)
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME weir_${name}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # Export the entry point and nothing else: template instances of the standard
  # library would otherwise be exported (some as GNU-unique symbols, which
  # make a library impossible to unload after a hot swap).
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${target}.map)
  file(WRITE ${script} "{ global: weir_plugin_entry; local: *; };\n")
  target_link_options(${target} PRIVATE "LINKER:--version-script=${script}")
  if(DEFINED WEIR_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WEIR_PLUGIN_OUTPUT_DIR})
  endif()
  if(DEFINED WEIR_INSTALL_PLUGIN_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${WEIR_INSTALL_PLUGIN_DIR})
  endif()
endfunction()
