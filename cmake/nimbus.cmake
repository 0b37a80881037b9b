# Shared build rules for Nimbus modules.

# Warnings are errors on our own code only; system headers stay as they are.
# -Wno-restrict: GCC 12 at -O3 reports false positives inside std::string (GCC bug 105329).
# -Wno-maybe-uninitialized in release: GCC 12's -O3 inlining makes it flag aggregates of
# std::string that are initialized (GCC bug 107919); debug builds keep the warning.
add_library(nimbus_warnings INTERFACE)
target_compile_options(nimbus_warnings INTERFACE -Wall -Wextra -Werror -Wno-unused-parameter
                                                  -Wno-missing-field-initializers -Wno-restrict
                                                  $<$<CONFIG:Release>:-Wno-maybe-uninitialized>)

add_library(nimbus_sanitize INTERFACE)
if(NIMBUS_SANITIZE)
  target_compile_options(nimbus_sanitize INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                   -fno-sanitize-recover=undefined)
  target_link_options(nimbus_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# nimbus_module(NAME SOURCES ... DEPS ...)
# A static library `nimbus_<NAME>` whose public header lives at src/<NAME>/<NAME>.hpp.
function(nimbus_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(nimbus_${name} STATIC ${ARG_SOURCES})
  target_include_directories(nimbus_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(nimbus_${name} PUBLIC ${ARG_DEPS} PRIVATE nimbus_warnings nimbus_sanitize)
endfunction()

# nimbus_test(NAME SOURCES ... DEPS ... [LABELS label] [PROPERTIES ...])
# One GoogleTest binary; each TEST becomes its own ctest entry. LABELS takes one label (a list
# would be flattened into the PROPERTIES by gtest_discover_tests); a folder adds more with
# `set_property(DIRECTORY PROPERTY LABELS ...)`.
function(nimbus_test name)
  if(NOT NIMBUS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main
                                        nimbus_warnings nimbus_sanitize)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${ARG_LABELS}" ${ARG_PROPERTIES})
endfunction()

# nimbus_migrations(MODULE DIR)
# Embeds every DIR/NNN_name.sql (and NNN_name.postgres.sql dialect file) into a generated source
# that defines `nimbus::<MODULE>::migrations()`; adds it to the target nimbus_<MODULE>.
function(nimbus_migrations module dir)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${module}_migrations.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DMODULE=${module} -DDIR=${dir} -DOUT=${out}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "Embedding ${module} migrations")
  target_sources(nimbus_${module} PRIVATE ${out})
endfunction()
