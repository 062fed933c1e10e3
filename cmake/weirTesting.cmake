# Test helpers shared by tests/ and each plugin's tests/ folder.
find_package(GTest REQUIRED)
include(GoogleTest)

# weir_add_gtest(NAME SOURCES... [LIBS libs...] [LABELS labels...])
# A GoogleTest binary registered with CTest. Tests find the host binary,
# the plugin folder and the source tree through compile definitions.
function(weir_add_gtest name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;DEPENDS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main weir_test_support ${T_LIBS})
  if(T_DEPENDS)
    add_dependencies(${name} ${T_DEPENDS})
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 30)
endfunction()

add_library(weir_test_support INTERFACE)
target_include_directories(weir_test_support INTERFACE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(weir_test_support INTERFACE weir::sdk)
target_compile_definitions(weir_test_support INTERFACE
  WEIR_BINARY="$<TARGET_FILE:weir>"
  WEIR_PLUGIN_DIR="${WEIR_PLUGIN_OUTPUT_DIR}"
  WEIR_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  WEIR_BUILD_DIR="${PROJECT_BINARY_DIR}")

