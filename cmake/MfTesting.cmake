# Helpers that register tests with CTest the same way everywhere.
#
# mf_unit_test(<module> <unit> SOURCES ... [LABELS ...])
#   one cmocka executable per file, CTest name unit.<module>.<unit>.
# mf_fuzz_target(<name> SOURCE <file> CORPUS <dir> [LABELS ...])
#   with MF_FUZZ and clang: a libFuzzer binary fuzz-<name>;
#   always: a replay binary that runs every corpus file through the target,
#   registered as CTest test fuzz.<name>.corpus.

set(MF_TEST_TIMEOUT 120 CACHE STRING "Default per-test timeout (s)")
set(MF_TEST_RUN_DIR ${CMAKE_BINARY_DIR}/test-run)

function(mf_unit_test module unit)
  cmake_parse_arguments(A "" "" "SOURCES;LABELS;LIBS" ${ARGN})
  set(target test_${module}_${unit})
  add_executable(${target} ${A_SOURCES})
  target_link_libraries(${target} PRIVATE mf_core mf_testsupport PkgConfig::CMOCKA mf_flags ${A_LIBS})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  add_test(NAME unit.${module}.${unit} COMMAND ${target})
  set_tests_properties(unit.${module}.${unit} PROPERTIES
    LABELS "unit;${module};${A_LABELS}" TIMEOUT ${MF_TEST_TIMEOUT})
endfunction()

function(mf_fuzz_target name)
  cmake_parse_arguments(A "" "SOURCE;CORPUS" "LABELS" ${ARGN})
  add_executable(fuzz_replay_${name} ${A_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(fuzz_replay_${name} PRIVATE mf_core mf_flags)
  target_include_directories(fuzz_replay_${name} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  add_test(NAME fuzz.${name}.corpus COMMAND fuzz_replay_${name} ${A_CORPUS})
  set_tests_properties(fuzz.${name}.corpus PROPERTIES
    LABELS "fuzz;${A_LABELS}" TIMEOUT ${MF_TEST_TIMEOUT})
  if(MF_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz-${name} ${A_SOURCE})
    target_compile_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz-${name} PRIVATE mf_core)
    target_include_directories(fuzz-${name} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  endif()
endfunction()
